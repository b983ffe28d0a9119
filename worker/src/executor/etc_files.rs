//! The generated `/etc/hosts`, `/etc/resolv.conf` and `/etc/hostname` of a container.

use std::fs;
use std::path::Path;

use super::{ExecError, NetworkMode, Result};

pub(crate) fn hosts(hostname: &str, extra: &[(String, String)]) -> String {
    let mut s =
        format!("127.0.0.1\tlocalhost {hostname}\n::1\tlocalhost ip6-localhost ip6-loopback\n");
    for (host, ip) in extra {
        s.push_str(&format!("{ip}\t{host}\n"));
    }
    s
}

/// Host network: the host's resolv.conf as it is. No network: only the loopback resolver,
/// since nothing else is reachable.
pub(crate) fn resolv_conf(network: NetworkMode, host_resolv: &Path) -> Result<String> {
    match network {
        NetworkMode::Host => match fs::read_to_string(host_resolv) {
            Ok(s) => Ok(s),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
            Err(e) => Err(ExecError::Io {
                op: "reading",
                path: host_resolv.to_path_buf(),
                source: e,
            }),
        },
        NetworkMode::None => {
            Ok("# --network=none: no resolvers but the loopback\nnameserver 127.0.0.1\n".into())
        }
    }
}

/// Checks a hostname as the kernel and resolvers accept it.
pub(crate) fn check_hostname(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.split('.').all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if ok {
        Ok(())
    } else {
        Err(ExecError::InvalidSpec {
            field: "hostname",
            value: name.into(),
            reason: "not a valid host name",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_lists_localhost_hostname_and_extras() {
        let h = hosts("box", &[("db".into(), "10.0.0.2".into())]);
        assert_eq!(
            h,
            "127.0.0.1\tlocalhost box\n::1\tlocalhost ip6-localhost ip6-loopback\n10.0.0.2\tdb\n"
        );
    }

    #[test]
    fn resolv_conf_per_network() {
        let tmp = tempfile::tempdir().unwrap();
        let host = tmp.path().join("resolv.conf");
        fs::write(&host, "nameserver 192.0.2.53\n").unwrap();
        assert_eq!(
            resolv_conf(NetworkMode::Host, &host).unwrap(),
            "nameserver 192.0.2.53\n"
        );
        let none = resolv_conf(NetworkMode::None, &host).unwrap();
        assert!(none.contains("nameserver 127.0.0.1") && !none.contains("192.0.2.53"));
    }

    #[test]
    fn hostnames() {
        assert!(check_hostname("slipway-1.local").is_ok());
        for bad in ["", "a b", "-x", "a..b", &"x".repeat(65)] {
            assert!(check_hostname(bad).is_err(), "{bad:?}");
        }
    }
}
