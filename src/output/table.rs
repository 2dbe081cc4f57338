//! Plain tables for terminal output: left-aligned columns separated by two spaces, like
//! `docker ps`. Widths count characters, so names with accents line up.

/// Render rows under a header.
pub fn render(header: &[&str], rows: &[Vec<String>]) -> String {
    let columns = header.len();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate().take(columns) {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            out.push_str(cell);
            if i + 1 < cells.len() {
                let pad = widths[i] - cell.chars().count() + 2;
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.trim_end().to_string()
    };
    let mut lines = vec![line(header.to_vec())];
    for row in rows {
        lines.push(line(row.iter().take(columns).map(String::as_str).collect()));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    #[test]
    fn aligns_columns() {
        let text = super::render(
            &["NAME", "IP"],
            &[
                vec!["app-1".into(), "1.2.3.4".into()],
                vec!["b".into(), String::new()],
            ],
        );
        assert_eq!(text, "NAME   IP\napp-1  1.2.3.4\nb");
    }
}
