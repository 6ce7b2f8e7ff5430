use super::*;

#[test]
fn only_plain_relative_paths_are_restored() {
    for ok in [&b"a"[..], b"a/b", b"a/.hidden", b"a..b/c"] {
        assert!(is_plain_relative(ok), "{:?}", String::from_utf8_lossy(ok));
    }
    for bad in [
        &b""[..],
        b"/etc/passwd",
        b"../x",
        b"a/../../x",
        b"a//b",
        b"./a",
        b"a/",
    ] {
        assert!(
            !is_plain_relative(bad),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
}
