//! Combining per-platform root filesystem tars into one tar with a directory per platform
//! (`linux_amd64/...`), as buildx's `type=tar` output does for multi-platform builds.

use std::io::{Read, Write};
use std::path::Path;

/// Appends every entry of `input` under `prefix/` to `out` (hard-link targets too; symlink
/// targets are kept as they are, they resolve inside the image's root).
pub fn append_prefixed<R: Read, W: Write>(
    out: &mut tar::Builder<W>,
    input: R,
    prefix: &str,
) -> std::io::Result<()> {
    let mut dir = tar::Header::new_gnu();
    dir.set_entry_type(tar::EntryType::Directory);
    dir.set_mode(0o755);
    dir.set_size(0);
    dir.set_mtime(0);
    out.append_data(&mut dir, format!("{prefix}/"), std::io::empty())?;
    let mut archive = tar::Archive::new(input);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.into_owned();
        let rel = path.strip_prefix("./").unwrap_or(&path);
        if rel.as_os_str().is_empty() || rel == Path::new(".") {
            continue;
        }
        let new_path = Path::new(prefix).join(rel);
        let mut header = entry.header().clone();
        match header.entry_type() {
            tar::EntryType::Link => {
                let target = entry
                    .link_name()?
                    .map(|t| t.into_owned())
                    .unwrap_or_default();
                let target = target.strip_prefix("./").unwrap_or(&target).to_path_buf();
                out.append_link(&mut header, &new_path, Path::new(prefix).join(target))?;
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name()?
                    .map(|t| t.into_owned())
                    .unwrap_or_default();
                out.append_link(&mut header, &new_path, target)?;
            }
            _ => out.append_data(&mut header, &new_path, &mut entry)?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(files: &[(&str, &[u8])], link: Option<(&str, &str)>) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            b.append_data(&mut h, name, *data).unwrap();
        }
        if let Some((name, target)) = link {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Link);
            h.set_size(0);
            b.append_link(&mut h, name, target).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn entries_and_hard_links_move_under_the_prefix() {
        let mut out = tar::Builder::new(Vec::new());
        append_prefixed(
            &mut out,
            &tar_of(&[("bin/sh", b"amd")], Some(("bin/ash", "bin/sh")))[..],
            "linux_amd64",
        )
        .unwrap();
        append_prefixed(
            &mut out,
            &tar_of(&[("bin/sh", b"arm")], None)[..],
            "linux_arm64",
        )
        .unwrap();
        let bytes = out.into_inner().unwrap();
        let mut a = tar::Archive::new(&bytes[..]);
        let mut seen = Vec::new();
        for e in a.entries().unwrap() {
            let mut e = e.unwrap();
            let p = e.path().unwrap().display().to_string();
            let link = e.link_name().unwrap().map(|l| l.display().to_string());
            let mut data = String::new();
            e.read_to_string(&mut data).unwrap();
            seen.push((p, link, data));
        }
        assert_eq!(
            seen,
            vec![
                ("linux_amd64/".into(), None, String::new()),
                ("linux_amd64/bin/sh".into(), None, "amd".into()),
                (
                    "linux_amd64/bin/ash".into(),
                    Some("linux_amd64/bin/sh".into()),
                    String::new()
                ),
                ("linux_arm64/".into(), None, String::new()),
                ("linux_arm64/bin/sh".into(), None, "arm".into()),
            ]
        );
    }
}
