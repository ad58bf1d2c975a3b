//! Helpers shared by the integration tests.

use std::ops::Range;

/// The header length and the total length of the DER TLV at the start of `b`.
fn tlv(b: &[u8]) -> (usize, usize) {
    match b[1] {
        short @ 0..=0x7F => (2, 2 + usize::from(short)),
        long => {
            let n = usize::from(long & 0x7F);
            let len = b[2..2 + n]
                .iter()
                .fold(0usize, |len, &x| len << 8 | usize::from(x));
            (2 + n, 2 + n + len)
        }
    }
}

/// Where the elements of the SEQUENCE at `at` of `input` lie in `input`.
fn elements(input: &[u8], at: Range<usize>) -> Vec<Range<usize>> {
    let (header, total) = tlv(&input[at.start..]);
    assert_eq!(input[at.start], 0x30);
    assert_eq!(total, at.len());
    let mut out = Vec::new();
    let mut pos = at.start + header;
    while pos < at.end {
        let (_, len) = tlv(&input[pos..]);
        out.push(pos..pos + len);
        pos += len;
    }
    out
}

/// Asserts that `signed` (a decoded seal's `signed_bytes()`) is a SEQUENCE whose
/// content is exactly the bytes of `input` (the seal as received) the signature
/// covers: eSealInfo, cert and signAlgID, found here by a reader of its own.
pub fn assert_signed_bytes_are_received(input: &[u8], signed: &[u8]) {
    let top = elements(input, 0..input.len());
    let covered: Vec<u8> = match top.as_slice() {
        // 2020: the first three fields, side by side.
        [info, _, alg, _] => input[info.start..alg.end].to_vec(),
        // 2014: eSealInfo, then cert and signatureAlgorithm inside signInfo.
        [info, sign] => {
            let inner = elements(input, sign.clone());
            let [cert, alg, _] = inner.as_slice() else {
                panic!("signInfo of {} fields", inner.len());
            };
            [&input[info.clone()], &input[cert.start..alg.end]].concat()
        }
        _ => panic!("a seal of {} fields", top.len()),
    };
    let (header, total) = tlv(signed);
    assert_eq!(signed[0], 0x30);
    assert_eq!(total, signed.len());
    assert_eq!(&signed[header..], covered.as_slice());
    // The header is DER: the shortest length form.
    let minimal = match covered.len() {
        0..=0x7F => 2,
        0x80..=0xFF => 3,
        0x100..=0xFFFF => 4,
        _ => 5,
    };
    assert_eq!(header, minimal);
}
