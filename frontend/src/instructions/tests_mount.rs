//! Unit tests of `--mount` parsing, resolution and dispatch defaults.

use super::*;

fn resolve(raw: &str) -> Result<Mount, MountError> {
    RunMount::parse(raw)?.resolve_literal()
}

fn resolve_err(raw: &str) -> String {
    resolve(raw).unwrap_err().to_string()
}

#[test]
fn parse_keeps_raw_fields_and_from() {
    let m = RunMount::parse("type=bind,from=build,source=/out,target=/in").unwrap();
    assert_eq!(m.raw, "type=bind,from=build,source=/out,target=/in");
    assert_eq!(m.fields.len(), 4);
    assert_eq!(m.from, "build");
    // A trailing `$` is not a variable.
    assert_eq!(RunMount::parse("from=a$").unwrap().from, "a$");
    assert_eq!(RunMount::parse("FROM=x").unwrap().from, "x");
    // Nothing else is checked at parse time (BuildKit defers it to dispatch).
    assert!(RunMount::parse("type=bogus,foo=bar").is_ok());
}

#[test]
fn bind_defaults() {
    let m = resolve("target=/src").unwrap();
    assert_eq!(m.mount_type, MountType::Bind);
    assert!(m.read_only);
    let m = resolve("type=bind,target=/src,rw").unwrap();
    assert!(!m.read_only);
    let m = resolve("type=bind,target=/src,readwrite=true,src=/a,from=b").unwrap();
    assert!(!m.read_only);
    assert_eq!((m.source.as_str(), m.from.as_str()), ("/a", "b"));
    let m = resolve("type=BIND,dst=/x,ro=false").unwrap();
    assert!(!m.read_only);
    assert_eq!(m.target, "/x");
}

#[test]
fn cache_defaults() {
    let m = resolve("type=cache,target=/root/.cache/").unwrap();
    assert!(!m.read_only);
    assert_eq!(m.cache_sharing(), ShareMode::Shared);
    assert_eq!(m.cache_id(), "/root/.cache");
    assert_eq!(m.cache_dir_owner(), None);
    let m = resolve("type=cache,id=go,target=/go,sharing=LOCKED,uid=1000,mode=0700,ro").unwrap();
    assert!(m.read_only);
    assert_eq!(m.cache_id(), "go");
    assert_eq!(m.sharing, Some(ShareMode::Locked));
    assert_eq!(
        m.cache_dir_owner(),
        Some(FileOwner {
            uid: 1000,
            gid: 0,
            mode: 0o700
        })
    );
    let m = resolve("type=cache,target=/c,gid=5").unwrap();
    assert_eq!(
        m.cache_dir_owner(),
        Some(FileOwner {
            uid: 0,
            gid: 5,
            mode: 0o755
        })
    );
}

#[test]
fn tmpfs() {
    let m = resolve("type=tmpfs,target=/t,size=64m").unwrap();
    assert_eq!(m.size_limit, 64 << 20);
    assert!(!m.read_only);
}

#[test]
fn secret_defaults() {
    let m = resolve("type=secret,id=aws").unwrap();
    assert!(m.read_only);
    let s = m.secret().unwrap();
    assert_eq!(s.id, "aws");
    assert_eq!(s.target.as_deref(), Some("/run/secrets/aws"));
    assert!(!s.required);
    assert_eq!(
        s.owner,
        FileOwner {
            uid: 0,
            gid: 0,
            mode: 0o400
        }
    );

    let s = resolve("type=secret,target=/etc/token,required")
        .unwrap()
        .secret()
        .unwrap();
    assert_eq!(s.id, "token");
    assert_eq!(s.target.as_deref(), Some("/etc/token"));
    assert!(s.required);

    let s = resolve("type=secret,id=tok,env=TOKEN")
        .unwrap()
        .secret()
        .unwrap();
    assert_eq!(s.target, None);
    assert_eq!(s.env.as_deref(), Some("TOKEN"));

    let s = resolve("type=secret,source=a/b,uid=1,required=false")
        .unwrap()
        .secret()
        .unwrap();
    assert_eq!(s.id, "a/b");
    assert_eq!(s.target.as_deref(), Some("/run/secrets/b"));
    assert_eq!(
        s.owner,
        FileOwner {
            uid: 1,
            gid: 0,
            mode: 0o400
        }
    );
}

#[test]
fn ssh_defaults() {
    let s = resolve("type=ssh").unwrap().ssh(0).unwrap();
    assert_eq!(s.id, "default");
    assert_eq!(s.target, "/run/buildkit/ssh_agent.0");
    assert_eq!(
        s.owner,
        FileOwner {
            uid: 0,
            gid: 0,
            mode: 0o600
        }
    );
    assert!(!s.required);
    let s = resolve("type=ssh,id=gh,target=/s,required,mode=0644")
        .unwrap()
        .ssh(3)
        .unwrap();
    assert_eq!((s.id.as_str(), s.target.as_str()), ("gh", "/s"));
    assert!(s.required);
    assert_eq!(s.owner.mode, 0o644);
    assert_eq!(
        resolve("type=ssh,source=/x")
            .unwrap()
            .ssh(0)
            .unwrap_err()
            .to_string(),
        "ssh does not support source"
    );
}

#[test]
fn errors() {
    let cases = [
        ("type=volume,target=/x", "unsupported mount type \"volume\""),
        ("type=cahce,target=/x", "unsupported mount type \"cahce\" (did you mean cache?)"),
        ("type=cache,target=/x,sharing=privat", "unsupported sharing value \"privat\" (did you mean private?)"),
        ("type=cache,target=/x,sharing=all", "unsupported sharing value \"all\""),
        ("target=/x,xyzzy=bar", "unexpected key 'xyzzy' in 'xyzzy=bar'"),
        ("target=/x,foo=bar", "unexpected key 'foo' in 'foo=bar' (did you mean from?)"),
        ("target=/x,taget=/y", "unexpected key 'taget' in 'taget=/y' (did you mean target?)"),
        ("target=/x,bogus", "invalid field 'bogus' must be a key=value pair"),
        ("target=/x,required", "unexpected key 'required' for mount type 'bind'"),
        ("type=cache,target=/x,required=true", "unexpected key 'required' for mount type 'cache'"),
        ("type=bind,target=/x,size=1m", "unexpected key 'size' for mount type 'bind'"),
        ("type=tmpfs,target=/x,size=lots", "invalid value for size: lots"),
        ("target=/x,ro=maybe", "invalid value for ro: maybe"),
        ("target=/x,rw=2", "invalid value for rw: 2"),
        ("type=secret,id=x,required=no", "invalid value for required: no"),
        ("type=cache,target=/x,mode=0999", "invalid value 0999 for mode"),
        ("type=cache,target=/x,uid=-1", "invalid value -1 for uid"),
        ("type=cache,target=/x,gid=x", "invalid value x for gid"),
        ("type=bind,target=/x,mode=0700", "mode not allowed for \"bind\" type mounts"),
        ("type=tmpfs,target=/x,uid=1", "uid not allowed for \"tmpfs\" type mounts"),
        ("type=bind,target=/x,gid=1", "gid not allowed for \"bind\" type mounts"),
        ("type=secret,id=x,from=y", "secret mount should not have a from"),
        ("type=secret,id=x,sharing=shared", "secret mount should not define sharing"),
        ("type=secret", "invalid secret mount. one of source, target required"),
        ("type=secret,id=a,source=b", "both source and id can't be set"),
        ("type=bind,target=/x,sharing=locked", "invalid cache sharing set for bind mount"),
        ("type=ssh,sharing=locked", "invalid cache sharing set for ssh mount"),
        ("a\"b", "failed to parse csv mounts: parse error on line 1, column 2: bare \" in non-quoted-field"),
    ];
    for (raw, want) in cases {
        assert_eq!(resolve_err(raw), want, "{raw}");
    }
    // "required" is checked against the type seen so far.
    assert!(resolve("type=secret,required,id=x").is_ok());
    assert_eq!(
        resolve_err("required,type=secret,id=x"),
        "unexpected key 'required' for mount type 'bind'"
    );
}

#[test]
fn resolve_expands_values() {
    let m = RunMount::parse("type=$T,target=/cache/${ID},id=${ID}").unwrap();
    let expand = |s: &str| -> Result<String, String> {
        Ok(s.replace("${ID}", "npm").replace("$T", "cache"))
    };
    let r = m.resolve(expand).unwrap();
    assert_eq!(r.mount_type, MountType::Cache);
    assert_eq!(r.target, "/cache/npm");
    assert_eq!(r.cache_id, "npm");

    let failing = |s: &str| -> Result<String, String> {
        if s.contains('$') {
            Err(format!("bad word {s}"))
        } else {
            Ok(s.to_string())
        }
    };
    match m.resolve(failing) {
        Err(ResolveError::Expand(e)) => assert_eq!(e, "bad word $T"),
        other => panic!("unexpected {other:?}"),
    }
    // Keys without a value are not expanded.
    let m = RunMount::parse("target=/x,$RO").unwrap();
    assert!(matches!(
        m.resolve(failing),
        Err(ResolveError::Mount(MountError::NotKeyValue { .. }))
    ));
}
