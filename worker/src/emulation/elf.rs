//! Platforms from the ELF header bytes a binfmt_misc handler matches.

use slipway_graph::Platform;

/// Bytes of the ELF header needed: e_ident (16) + e_type (2) + e_machine (2).
const HEADER: usize = 20;

/// The platforms whose binaries match `magic` under `mask` (empty if none is known).
pub(crate) fn platforms_for(magic: &[u8], mask: &[u8]) -> Vec<Platform> {
    if magic.len() < HEADER || magic.get(..4) != Some(b"\x7fELF".as_slice()) {
        return Vec::new();
    }
    let byte = |i: usize| magic.get(i).copied().unwrap_or(0) & mask.get(i).copied().unwrap_or(0xff);
    let (class, data) = (byte(4), byte(5));
    let machine = match data {
        1 => u16::from_le_bytes([byte(18), byte(19)]),
        2 => u16::from_be_bytes([byte(18), byte(19)]),
        _ => return Vec::new(),
    };
    // MIPS n32 handlers (qemu-mipsn32*) match EF_MIPS_ABI2 in e_flags; Go's mips/mipsle
    // platforms are o32.
    const EF_MIPS_ABI2: u8 = 0x20;
    let flags_low = if data == 1 { byte(36) } else { byte(39) };
    if machine == 0x08 && class == 1 && magic.len() >= 40 && flags_low & EF_MIPS_ABI2 != 0 {
        return Vec::new();
    }
    let linux = |a: &str, v: &str| Platform::linux(a, v);
    match (class, data, machine) {
        (2, 1, 0x3e) => vec![linux("amd64", "")],
        (1, 1, 0x03) => vec![linux("386", "")],
        (2, 1, 0xb7) => vec![linux("arm64", "")],
        (1, 1, 0x28) => vec![linux("arm", "v7"), linux("arm", "v6")],
        (2, 1, 0xf3) => vec![linux("riscv64", "")],
        (2, 1, 0x15) => vec![linux("ppc64le", "")],
        (2, 2, 0x15) => vec![linux("ppc64", "")],
        (2, 2, 0x16) => vec![linux("s390x", "")],
        (2, 1, 0x08) => vec![linux("mips64le", "")],
        (2, 2, 0x08) => vec![linux("mips64", "")],
        (1, 1, 0x08) => vec![linux("mipsle", "")],
        (1, 2, 0x08) => vec![linux("mips", "")],
        (2, 1, 0x102) => vec![linux("loong64", "")],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(class: u8, data: u8, machine: [u8; 2]) -> Vec<u8> {
        let mut h = vec![0x7f, b'E', b'L', b'F', class, data, 1];
        h.resize(16, 0);
        h.extend_from_slice(&[2, 0]);
        h.extend_from_slice(&machine);
        h
    }

    #[test]
    fn maps_machines() {
        let full = vec![0xff; 20];
        assert_eq!(
            platforms_for(&header(2, 1, [0xb7, 0]), &full),
            vec![Platform::linux("arm64", "")]
        );
        assert_eq!(
            platforms_for(&header(2, 2, [0, 0x16]), &full),
            vec![Platform::linux("s390x", "")]
        );
        assert_eq!(platforms_for(&header(1, 1, [0x28, 0]), &full).len(), 2);
        assert!(platforms_for(&header(2, 1, [0x99, 0x99]), &full).is_empty());
        assert!(platforms_for(b"MZ\x90\x00", &full).is_empty());
        let mut n32 = header(1, 1, [0x08, 0]);
        n32.resize(40, 0);
        n32[36] = 0x20;
        assert!(platforms_for(&n32, &[0xff; 40]).is_empty());
        n32[36] = 0;
        assert_eq!(
            platforms_for(&n32, &[0xff; 40]),
            vec![Platform::linux("mipsle", "")]
        );
    }
}
