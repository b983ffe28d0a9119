//! `--chmod` values. An octal one (BuildKit's `Mode`) replaces the permission and special bits
//! of every copied path. A symbolic one (BuildKit's `ModeStr`, `u+x,g=rw`) is applied as
//! BuildKit applies it: github.com/tonistiigi/dchapes-mode, a port of BSD's setmode(3) and
//! getmode(3), with a umask of 0; what follows is a port of that, quirks included (`o+t` is
//! ignored, `u+t` sets the sticky bit, `X` looks at the mode before the whole change).

use crate::error::FsError;
use slipway_graph::Chmod;

/// A parsed `--chmod`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModeChange {
    /// `--chmod=0755`: replaces permission and special bits.
    Octal(u32),
    /// `--chmod=u+x,g=rw` (or digits given as a mode string).
    Symbolic(ModeSet),
}

/// The compiled commands of a symbolic mode (setmode's `bitcmd` list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModeSet {
    cmds: Vec<BitCmd>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct BitCmd {
    cmd: u8,
    cmd2: u8,
    bits: u16,
}

const CMD2_CLEAR: u8 = 1;
const CMD2_SET: u8 = 2;
const CMD2_GBITS: u8 = 4;
const CMD2_OBITS: u8 = 8;
const CMD2_UBITS: u8 = 16;

const IS_UID: u16 = 0o4000;
const IS_GID: u16 = 0o2000;
const IS_TXT: u16 = 0o1000;
const RWXU: u16 = 0o700;
const RWXG: u16 = 0o070;
const RWXO: u16 = 0o007;
const R_ALL: u16 = 0o444;
const W_ALL: u16 = 0o222;
const X_ALL: u16 = 0o111;
const STANDARD: u16 = IS_UID | IS_GID | RWXU | RWXG | RWXO;
/// `^umask` with the umask of 0 BuildKit parses with.
const MASK: u16 = !0;

/// The mode of the directories a copy creates for its destination (fsutil's `MkdirAll`
/// permission): an octal `--chmod`'s permission bits, otherwise 0755.
pub(crate) fn created_dir_mode(change: Option<&ModeChange>) -> u32 {
    match change {
        Some(ModeChange::Octal(m)) => m & 0o777,
        _ => 0o755,
    }
}

impl ModeChange {
    /// Parses a graph `Chmod`.
    pub fn from_graph(c: &Chmod) -> Result<ModeChange, FsError> {
        match c {
            Chmod::Octal(m) if *m <= 0o7777 => Ok(ModeChange::Octal(*m)),
            Chmod::Octal(m) => Err(FsError::InvalidChmod {
                mode: format!("{m:o}"),
                reason: "octal mode above 7777".to_string(),
            }),
            Chmod::Symbolic(s) => ModeSet::parse(s).map(ModeChange::Symbolic),
        }
    }

    /// The new permission/special bits for a path with `mode` (`is_dir` for `X`).
    pub fn apply(&self, mode: u32, is_dir: bool) -> u32 {
        match self {
            ModeChange::Octal(m) => *m & 0o7777,
            ModeChange::Symbolic(set) => set.apply(mode, is_dir),
        }
    }
}

impl ModeSet {
    /// dchapes-mode's `ParseWithUmask(s, 0)`.
    pub fn parse(s: &str) -> Result<ModeSet, FsError> {
        let bad = |reason: &str| FsError::InvalidChmod {
            mode: s.to_string(),
            reason: reason.to_string(),
        };
        let b = s.as_bytes();
        let Some(&first) = b.first() else {
            return Err(bad("empty mode"));
        };
        let mut set = ModeSet { cmds: Vec::new() };
        if first.is_ascii_digit() {
            // strconv.ParseInt(s, 8, 16), then only the 12 mode bits.
            let v = match i16::from_str_radix(s, 8) {
                Ok(v) if s.bytes().all(|c| c.is_ascii_digit()) => v,
                _ => return Err(bad("not an octal number of 16 bits")),
            };
            let v = v as u16;
            if v & !(STANDARD | IS_TXT) != 0 {
                return Err(bad("octal mode above 7777"));
            }
            set.add(b'=', STANDARD | IS_TXT, v);
            return Ok(set);
        }
        let mut i = 0;
        let at = |i: usize| b.get(i).copied().unwrap_or(0);
        let mut equal_done = false;
        'clauses: loop {
            let mut who: u16 = 0;
            loop {
                if i >= b.len() {
                    return Err(bad("clause without +, - or ="));
                }
                who |= match b[i] {
                    b'a' => STANDARD,
                    b'u' => IS_UID | RWXU,
                    b'g' => IS_GID | RWXG,
                    b'o' => RWXO,
                    _ => break,
                };
                i += 1;
            }
            loop {
                let op = at(i);
                i += 1;
                match op {
                    b'+' | b'-' => {}
                    b'=' => equal_done = false,
                    _ => {
                        return Err(bad(&format!(
                            "unexpected {:?}, expected +, - or =",
                            char::from(op)
                        )))
                    }
                }
                who &= !IS_TXT;
                let (mut perm, mut perm_x) = (0u16, 0u16);
                loop {
                    let c = at(i);
                    match c {
                        b'r' => perm |= R_ALL,
                        b's' if who == 0 || who & !RWXO != 0 => perm |= IS_UID | IS_GID,
                        b't' if who == 0 || who & !RWXO != 0 => {
                            who |= IS_TXT;
                            perm |= IS_TXT;
                        }
                        b's' | b't' => {}
                        b'w' => perm |= W_ALL,
                        b'X' if op != b'-' => perm_x = X_ALL,
                        b'X' | b'x' => perm |= X_ALL,
                        b'u' | b'g' | b'o' => {
                            if perm != 0 {
                                set.add(op, who, perm);
                                perm = 0;
                            }
                            if op == b'=' {
                                equal_done = true;
                            }
                            if perm_x != 0 {
                                set.add(b'X', who, perm_x);
                                perm_x = 0;
                            }
                            set.add_copy(c, who, op);
                        }
                        _ => {
                            if perm != 0 || (op == b'=' && !equal_done) {
                                if op == b'=' {
                                    equal_done = true;
                                }
                                set.add(op, who, perm);
                            }
                            if perm_x != 0 {
                                set.add(b'X', who, perm_x);
                            }
                            break;
                        }
                    }
                    i += 1;
                }
                if i >= b.len() {
                    break 'clauses;
                }
                if b[i] == b',' {
                    i += 1;
                    continue 'clauses;
                }
            }
        }
        set.compress();
        Ok(set)
    }

    /// setmode's `addcmd` for `=`, `+`, `-` and `X`.
    fn add(&mut self, op: u8, who: u16, oparg: u16) {
        let bits = |arg: u16| if who != 0 { who & arg } else { MASK & arg };
        let op = if op == b'=' {
            self.cmds.push(BitCmd {
                cmd: b'-',
                cmd2: 0,
                bits: if who != 0 { who } else { STANDARD },
            });
            b'+'
        } else {
            op
        };
        self.cmds.push(BitCmd {
            cmd: op,
            cmd2: 0,
            bits: bits(oparg),
        });
    }

    /// setmode's `addcmd` for copying the bits of class `from` (`u`, `g`, `o`) with `op`.
    fn add_copy(&mut self, from: u8, who: u16, op: u8) {
        let (mut cmd2, bits) = if who != 0 {
            let mut c = 0;
            if who & 0o400 != 0 {
                c |= CMD2_UBITS;
            }
            if who & 0o040 != 0 {
                c |= CMD2_GBITS;
            }
            if who & 0o004 != 0 {
                c |= CMD2_OBITS;
            }
            (c, !0)
        } else {
            (CMD2_UBITS | CMD2_GBITS | CMD2_OBITS, MASK)
        };
        cmd2 |= match op {
            b'+' => CMD2_SET,
            b'-' => CMD2_CLEAR,
            _ => CMD2_SET | CMD2_CLEAR,
        };
        self.cmds.push(BitCmd {
            cmd: from,
            cmd2,
            bits,
        });
    }

    /// setmode's `compress`: each run of `+`, `-` and `X` becomes at most one of each.
    fn compress(&mut self) {
        let mut out = Vec::with_capacity(self.cmds.len());
        let mut i = 0;
        while i < self.cmds.len() {
            if !matches!(self.cmds[i].cmd, b'+' | b'-' | b'X') {
                out.push(self.cmds[i]);
                i += 1;
                continue;
            }
            let (mut set, mut clr, mut x) = (0u16, 0u16, 0u16);
            while let Some(c) = self.cmds.get(i) {
                match c.cmd {
                    b'-' => {
                        clr |= c.bits;
                        set &= !c.bits;
                        x &= !c.bits;
                    }
                    b'+' => {
                        set |= c.bits;
                        clr &= !c.bits;
                        x &= !c.bits;
                    }
                    b'X' => x |= c.bits & !set,
                    _ => break,
                }
                i += 1;
            }
            for (cmd, bits) in [(b'-', clr), (b'+', set), (b'X', x)] {
                if bits != 0 {
                    out.push(BitCmd { cmd, cmd2: 0, bits });
                }
            }
        }
        self.cmds = out;
    }

    /// getmode: the new permission/special bits of a path with `mode`.
    pub fn apply(&self, mode: u32, is_dir: bool) -> u32 {
        let old = (mode & 0o7777) as u16;
        let mut new = old;
        for c in &self.cmds {
            let value = match c.cmd {
                b'u' => (new & RWXU) >> 6,
                b'g' => (new & RWXG) >> 3,
                b'o' => new & RWXO,
                b'+' => {
                    new |= c.bits;
                    continue;
                }
                b'-' => {
                    new &= !c.bits;
                    continue;
                }
                _ => {
                    if old & X_ALL != 0 || is_dir {
                        new |= c.bits;
                    }
                    continue;
                }
            };
            let classes = [(CMD2_UBITS, 6), (CMD2_GBITS, 3), (CMD2_OBITS, 0)];
            if c.cmd2 & CMD2_CLEAR != 0 {
                let clear = if c.cmd2 & CMD2_SET != 0 { RWXO } else { value };
                for (flag, shift) in classes {
                    if c.cmd2 & flag != 0 {
                        new &= !((clear << shift) & c.bits);
                    }
                }
            }
            if c.cmd2 & CMD2_SET != 0 {
                for (flag, shift) in classes {
                    if c.cmd2 & flag != 0 {
                        new |= (value << shift) & c.bits;
                    }
                }
            }
        }
        u32::from(new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(spec: &str, mode: u32, dir: bool) -> u32 {
        ModeSet::parse(spec)
            .unwrap_or_else(|e| panic!("{spec}: {e}"))
            .apply(mode, dir)
    }

    #[test]
    fn symbolic_table() {
        // (mode string, mode before, is a directory, mode after), as BSD chmod(1) gives.
        let table: &[(&str, u32, bool, u32)] = &[
            ("u+x", 0o644, false, 0o744),
            ("g=rw", 0o751, false, 0o761),
            ("u+x,g=rw", 0o600, false, 0o760),
            ("o-r", 0o644, false, 0o640),
            ("a=rX", 0o640, false, 0o444),
            ("a=rX", 0o640, true, 0o555),
            ("a=rX", 0o740, false, 0o555),
            ("+x", 0o644, false, 0o755),
            ("go=u", 0o700, false, 0o777),
            ("go=u-w", 0o755, false, 0o755),
            ("go=u-w", 0o700, false, 0o755),
            ("u=g", 0o750, false, 0o550),
            ("u+s", 0o755, false, 0o4755),
            ("g+s", 0o755, true, 0o2755),
            ("+s", 0o755, false, 0o6755),
            ("o+s", 0o755, false, 0o755),
            ("+t", 0o755, true, 0o1755),
            ("a+t", 0o755, true, 0o1755),
            ("u+t", 0o755, true, 0o1755),
            // "Only other bits": the sticky bit is ignored.
            ("o+t", 0o755, true, 0o755),
            // `t` narrows an unqualified clause to the sticky bit.
            ("+tx", 0o644, false, 0o1644),
            ("u=rwx,go=", 0o666, false, 0o700),
            ("=", 0o4755, false, 0o0),
            ("=", 0o1755, true, 0o1000),
            ("a=", 0o1755, true, 0o1000),
            ("u=rw", 0o4755, false, 0o655),
            ("=rw,+X", 0o744, false, 0o777),
            ("=rw,+X", 0o644, false, 0o666),
            ("=rw,+X", 0o600, true, 0o777),
            // X looks at the mode before the whole change.
            ("a-x,+X", 0o744, false, 0o755),
            ("+X", 0o600, false, 0o600),
            ("-X", 0o755, false, 0o644),
            ("u+w-x", 0o555, false, 0o655),
            ("u+x+w", 0o400, false, 0o700),
            ("u-w,u+w", 0o444, false, 0o644),
            ("g+u", 0o640, false, 0o660),
            ("o=g,g-w", 0o670, false, 0o657),
            ("u+", 0o640, false, 0o640),
            ("+", 0o640, false, 0o640),
            // Digits given as a mode string replace all 12 bits.
            ("755", 0o4600, false, 0o755),
            ("1777", 0o755, true, 0o1777),
            ("0", 0o755, true, 0o0),
        ];
        for &(spec, before, dir, after) in table {
            assert_eq!(
                apply(spec, before, dir),
                after,
                "{spec} on {before:o} (dir: {dir}): got {:o}",
                apply(spec, before, dir)
            );
        }
    }

    #[test]
    fn bad_modes() {
        for bad in [
            "", "u", "z+x", "u+q", "u+x,", ",u+x", "8", "17777", "0x755", "1a", "u+x,g",
        ] {
            assert!(ModeSet::parse(bad).is_err(), "{bad:?}");
        }
        assert!(ModeChange::from_graph(&Chmod::Octal(0o17777)).is_err());
    }

    #[test]
    fn created_directories_take_octal_permission_bits_only() {
        let oct = ModeChange::from_graph(&Chmod::Octal(0o4750)).unwrap();
        assert_eq!(created_dir_mode(Some(&oct)), 0o750);
        let sym = ModeChange::from_graph(&Chmod::Symbolic("u=rwx,go=".into())).unwrap();
        assert_eq!(created_dir_mode(Some(&sym)), 0o755);
        let digits = ModeChange::from_graph(&Chmod::Symbolic("700".into())).unwrap();
        assert_eq!(created_dir_mode(Some(&digits)), 0o755);
        assert_eq!(created_dir_mode(None), 0o755);
    }
}
