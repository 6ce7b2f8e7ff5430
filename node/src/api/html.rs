//! Escaping for the HTML the node serves (the status page, the report page):
//! everything a peer sent or an owner named passes through [`esc`].

/// `s` safe inside HTML text and attribute values.
pub(super) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::esc;

    #[test]
    fn quotes_markup_and_controls_are_neutralised() {
        assert_eq!(
            esc("<a href='x'>\"&\n"),
            "&lt;a href=&#39;x&#39;&gt;&quot;&amp; "
        );
    }
}
