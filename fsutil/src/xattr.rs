//! Extended attributes of a path itself (never following a final symlink).

use crate::error::FsError;
use std::collections::BTreeMap;
use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

fn cpath(path: &Path) -> Result<CString, FsError> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| FsError::InvalidPath {
        path: path.display().to_string(),
        reason: "contains a NUL byte",
    })
}

fn unsupported(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENOTSUP) | Some(libc::ENODATA) | Some(libc::EPERM)
    )
}

/// All extended attributes of `path`, by name. A filesystem without xattr support gives
/// an empty map.
pub fn read_xattrs(path: &Path) -> Result<BTreeMap<String, Vec<u8>>, FsError> {
    let c = cpath(path)?;
    let mut out = BTreeMap::new();
    let names = loop {
        // SAFETY: a null buffer with size 0 asks for the needed size.
        let size = unsafe { libc::llistxattr(c.as_ptr(), std::ptr::null_mut(), 0) };
        if size < 0 {
            let e = io::Error::last_os_error();
            if unsupported(&e) {
                return Ok(out);
            }
            return Err(FsError::io("listing xattrs", path, e));
        }
        if size == 0 {
            return Ok(out);
        }
        let mut buf = vec![0u8; size as usize];
        // SAFETY: buf has exactly buf.len() writable bytes.
        let got = unsafe { libc::llistxattr(c.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        if got < 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::ERANGE) {
                continue;
            }
            return Err(FsError::io("listing xattrs", path, e));
        }
        buf.truncate(got as usize);
        break buf;
    };
    for name in names.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let name_str = String::from_utf8_lossy(name).into_owned();
        let cname = CString::new(name).map_err(|_| FsError::InvalidPath {
            path: path.display().to_string(),
            reason: "xattr name contains a NUL byte",
        })?;
        if let Some(value) = get_one(&c, &cname).map_err(|source| FsError::Xattr {
            path: path.to_path_buf(),
            name: name_str.clone(),
            source,
        })? {
            out.insert(name_str, value);
        }
    }
    Ok(out)
}

fn get_one(path: &CString, name: &CString) -> io::Result<Option<Vec<u8>>> {
    loop {
        // SAFETY: size query with a null buffer.
        let size =
            unsafe { libc::lgetxattr(path.as_ptr(), name.as_ptr(), std::ptr::null_mut(), 0) };
        if size < 0 {
            let e = io::Error::last_os_error();
            return if e.raw_os_error() == Some(libc::ENODATA) {
                Ok(None)
            } else {
                Err(e)
            };
        }
        let mut buf = vec![0u8; size as usize];
        // SAFETY: buf has buf.len() writable bytes.
        let got = unsafe {
            libc::lgetxattr(
                path.as_ptr(),
                name.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
            )
        };
        if got < 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::ERANGE) {
                continue;
            }
            return Err(e);
        }
        buf.truncate(got as usize);
        return Ok(Some(buf));
    }
}

/// Sets one extended attribute on `path` itself.
pub fn set_xattr(path: &Path, name: &str, value: &[u8]) -> Result<(), FsError> {
    let c = cpath(path)?;
    let cname = CString::new(name).map_err(|_| FsError::InvalidPath {
        path: path.display().to_string(),
        reason: "xattr name contains a NUL byte",
    })?;
    // SAFETY: pointers are valid for the given lengths.
    let rc = unsafe {
        libc::lsetxattr(
            c.as_ptr(),
            cname.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if rc < 0 {
        return Err(FsError::Xattr {
            path: path.to_path_buf(),
            name: name.to_string(),
            source: io::Error::last_os_error(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_user_xattr() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        std::fs::write(&f, b"x").unwrap();
        match set_xattr(&f, "user.slipway", b"v1") {
            Ok(()) => {
                let got = read_xattrs(&f).unwrap();
                assert_eq!(got.get("user.slipway").map(Vec::as_slice), Some(&b"v1"[..]));
            }
            // tmpfs without user xattrs: reading must still work.
            Err(_) => assert!(read_xattrs(&f).is_ok()),
        }
    }
}
