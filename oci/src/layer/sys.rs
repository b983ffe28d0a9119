//! Thin safe wrappers over the `*at` system calls used to apply layers without ever following
//! a symlink in a path we did not resolve ourselves.

use std::ffi::{CStr, CString};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

pub fn cstr(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in name"))
}

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Opens a directory by path (used for the root only).
pub fn open_root(path: &Path) -> io::Result<OwnedFd> {
    let c = cstr(path.as_os_str().as_bytes())?;
    // SAFETY: c is a valid NUL-terminated string; the returned fd is owned by us.
    let fd = unsafe {
        libc::open(
            c.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    owned(fd)
}

fn owned(fd: RawFd) -> io::Result<OwnedFd> {
    if fd < 0 {
        Err(io::Error::last_os_error())
    } else {
        // SAFETY: fd was just returned by the kernel and is not owned elsewhere.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }
}

/// Opens the directory `name` inside `dir`, refusing to follow a symlink.
pub fn open_dir_at(dir: &OwnedFd, name: &CStr) -> io::Result<OwnedFd> {
    // SAFETY: valid fd and C string.
    let fd = unsafe {
        libc::openat(
            dir.as_raw_fd(),
            name.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        )
    };
    owned(fd)
}

/// lstat of `name` in `dir`; `None` when it does not exist.
pub fn lstat_at(dir: &OwnedFd, name: &CStr) -> io::Result<Option<libc::stat>> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: valid fd, C string and out pointer.
    let rc = unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            name.as_ptr(),
            st.as_mut_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if rc < 0 {
        let e = io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::ENOENT) | Some(libc::ENOTDIR) => Ok(None),
            _ => Err(e),
        };
    }
    // SAFETY: fstatat succeeded, so st is initialised.
    Ok(Some(unsafe { st.assume_init() }))
}

pub fn is_dir(st: &libc::stat) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFDIR
}

pub fn is_symlink(st: &libc::stat) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFLNK
}

pub fn mkdir_at(dir: &OwnedFd, name: &CStr, mode: u32) -> io::Result<()> {
    // SAFETY: valid fd and C string.
    check(unsafe { libc::mkdirat(dir.as_raw_fd(), name.as_ptr(), mode as libc::mode_t) })
}

/// Creates a new regular file (never following or reusing an existing entry).
pub fn create_file_at(dir: &OwnedFd, name: &CStr, mode: u32) -> io::Result<File> {
    // SAFETY: valid fd and C string.
    let fd = unsafe {
        libc::openat(
            dir.as_raw_fd(),
            name.as_ptr(),
            libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            mode as libc::c_uint,
        )
    };
    owned(fd).map(File::from)
}

pub fn symlink_at(target: &CStr, dir: &OwnedFd, name: &CStr) -> io::Result<()> {
    // SAFETY: valid fd and C strings.
    check(unsafe { libc::symlinkat(target.as_ptr(), dir.as_raw_fd(), name.as_ptr()) })
}

pub fn link_at(old_dir: &OwnedFd, old: &CStr, new_dir: &OwnedFd, new: &CStr) -> io::Result<()> {
    // SAFETY: valid fds and C strings; flags 0 = do not follow a symlink `old`.
    check(unsafe {
        libc::linkat(
            old_dir.as_raw_fd(),
            old.as_ptr(),
            new_dir.as_raw_fd(),
            new.as_ptr(),
            0,
        )
    })
}

pub fn mknod_at(dir: &OwnedFd, name: &CStr, mode: u32, major: u32, minor: u32) -> io::Result<()> {
    let dev = libc::makedev(major, minor);
    // SAFETY: valid fd and C string.
    check(unsafe { libc::mknodat(dir.as_raw_fd(), name.as_ptr(), mode as libc::mode_t, dev) })
}

pub fn chown_at(dir: &OwnedFd, name: &CStr, uid: u32, gid: u32) -> io::Result<()> {
    // SAFETY: valid fd and C string.
    check(unsafe {
        libc::fchownat(
            dir.as_raw_fd(),
            name.as_ptr(),
            uid,
            gid,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    })
}

/// chmod of a non-symlink entry (the caller created it, so it is not a symlink).
pub fn chmod_at(dir: &OwnedFd, name: &CStr, mode: u32) -> io::Result<()> {
    // SAFETY: valid fd and C string.
    check(unsafe { libc::fchmodat(dir.as_raw_fd(), name.as_ptr(), mode as libc::mode_t, 0) })
}

pub fn set_mtime_at(dir: &OwnedFd, name: &CStr, secs: i64, nanos: u32) -> io::Result<()> {
    let t = libc::timespec {
        tv_sec: secs as libc::time_t,
        tv_nsec: nanos as _,
    };
    let times = [t, t];
    // SAFETY: valid fd, C string and a 2-element timespec array.
    check(unsafe {
        libc::utimensat(
            dir.as_raw_fd(),
            name.as_ptr(),
            times.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    })
}

pub fn unlink_at(dir: &OwnedFd, name: &CStr) -> io::Result<()> {
    // SAFETY: valid fd and C string.
    check(unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), 0) })
}

pub fn readlink_at(dir: &OwnedFd, name: &CStr) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; libc::PATH_MAX as usize + 1];
    // SAFETY: valid fd, C string and buffer of the given length.
    let n = unsafe {
        libc::readlinkat(
            dir.as_raw_fd(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    buf.truncate(n as usize);
    Ok(buf)
}

/// A path naming `name` inside the directory `dir` through /proc, for calls with no `*at` form.
/// The parent is pinned by the fd; the last component is never followed by the callers.
pub fn proc_path(dir: &OwnedFd, name: &[u8]) -> PathBuf {
    let mut p = PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd()));
    if !name.is_empty() {
        p.push(std::ffi::OsStr::from_bytes(name));
    }
    p
}

pub fn lsetxattr(path: &Path, key: &str, value: &[u8]) -> io::Result<()> {
    let p = cstr(path.as_os_str().as_bytes())?;
    let k = cstr(key.as_bytes())?;
    // SAFETY: valid C strings and value buffer.
    check(unsafe {
        libc::lsetxattr(
            p.as_ptr(),
            k.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    })
}

/// All extended attributes of `path` (not following a final symlink), sorted by name.
pub fn lxattrs(path: &Path) -> io::Result<Vec<(String, Vec<u8>)>> {
    let p = cstr(path.as_os_str().as_bytes())?;
    // SAFETY: valid C string; a null buffer asks for the size.
    let size = unsafe { libc::llistxattr(p.as_ptr(), std::ptr::null_mut(), 0) };
    if size < 0 {
        let e = io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::ENOTSUP) => Ok(Vec::new()),
            _ => Err(e),
        };
    }
    let mut names = vec![0u8; size as usize];
    // SAFETY: buffer of the given length.
    let size = unsafe { libc::llistxattr(p.as_ptr(), names.as_mut_ptr().cast(), names.len()) };
    if size < 0 {
        return Err(io::Error::last_os_error());
    }
    names.truncate(size as usize);
    let mut out = Vec::new();
    for raw in names.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let key = String::from_utf8_lossy(raw).into_owned();
        let k = cstr(raw)?;
        // SAFETY: valid C strings; null buffer asks for the size.
        let len = unsafe { libc::lgetxattr(p.as_ptr(), k.as_ptr(), std::ptr::null_mut(), 0) };
        if len < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut value = vec![0u8; len as usize];
        // SAFETY: buffer of the given length.
        let len = unsafe {
            libc::lgetxattr(
                p.as_ptr(),
                k.as_ptr(),
                value.as_mut_ptr().cast(),
                value.len(),
            )
        };
        if len < 0 {
            return Err(io::Error::last_os_error());
        }
        value.truncate(len as usize);
        out.push((key, value));
    }
    out.sort();
    Ok(out)
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}
