//! Platforms the CPU runs without emulation.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;

use slipway_graph::Platform;

/// A 93-byte static i386 ELF executable that calls exit(0) (`mov eax,1; xor ebx,ebx;
/// int 0x80`), loaded at 0x08048000 with one PT_LOAD segment.
const I386_EXIT0: [u8; 93] = [
    // ELF header: 32-bit, little endian, ET_EXEC, EM_386, entry 0x08048054, phoff 52.
    0x7f, b'E', b'L', b'F', 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, //
    2, 0, 3, 0, 1, 0, 0, 0, 0x54, 0x80, 0x04, 0x08, 52, 0, 0, 0, //
    0, 0, 0, 0, 0, 0, 0, 0, 52, 0, 32, 0, 1, 0, 0, 0, 0, 0, 0, 0, //
    // Program header: PT_LOAD, offset 0, vaddr/paddr 0x08048000, filesz/memsz 93, R+X.
    1, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x04, 0x08, 0, 0x80, 0x04, 0x08, //
    93, 0, 0, 0, 93, 0, 0, 0, 5, 0, 0, 0, 0, 0x10, 0, 0, //
    // Code.
    0xb8, 1, 0, 0, 0, 0x31, 0xdb, 0xcd, 0x80,
];

/// The host platform, plus linux/386 on amd64 when the kernel runs 32-bit binaries
/// (checked by running a tiny one, as BuildKit does).
pub(crate) fn native_platforms() -> Vec<Platform> {
    let host = Platform::host();
    let mut out = vec![host.clone()];
    if host.architecture == "amd64" && runs_i386() {
        out.push(Platform::linux("386", ""));
    }
    out
}

fn runs_i386() -> bool {
    let Ok(mut f) = tempfile::Builder::new()
        .prefix("slipway-i386-probe")
        .tempfile()
    else {
        return false;
    };
    if f.write_all(&I386_EXIT0).is_err()
        || f.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o700))
            .is_err()
    {
        return false;
    }
    let Ok(path) = f.into_temp_path().keep() else {
        return false;
    };
    // A fork elsewhere in the process may hold the write fd briefly: retry ETXTBSY.
    let mut ok = false;
    for _ in 0..5 {
        match std::process::Command::new(&path).status() {
            Ok(s) => {
                ok = s.success();
                break;
            }
            Err(e) if e.raw_os_error() == Some(nix::libc::ETXTBSY) => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            Err(_) => break,
        }
    }
    let _ = std::fs::remove_file(&path);
    ok
}

#[cfg(test)]
mod tests {
    #[test]
    fn host_is_native() {
        let n = super::native_platforms();
        assert_eq!(n.first(), Some(&slipway_graph::Platform::host()));
    }
}
