//! Aligned text tables for human output.

use crate::view::printable;
use std::borrow::Cow;

/// A table: a header row and data rows, rendered with columns padded to their widest cell.
#[derive(Debug, Default)]
pub struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers.
    pub fn new<const N: usize>(headers: [&str; N]) -> Self {
        Table {
            rows: vec![headers.iter().map(|h| (*h).to_owned()).collect()],
        }
    }

    /// A table without a header row (label/value pairs and the like).
    pub fn bare() -> Self {
        Table::default()
    }

    /// Adds a row; each cell is shown through [`printable`] (no control characters reach
    /// the terminal).
    pub fn row<I, S>(&mut self, cells: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.rows.push(
            cells
                .into_iter()
                .map(|cell| {
                    let cell: String = cell.into();
                    match printable(&cell) {
                        Cow::Borrowed(_) => cell,
                        Cow::Owned(escaped) => escaped,
                    }
                })
                .collect(),
        );
        self
    }

    /// Renders with two spaces between columns and `indent` spaces before each line.
    pub fn render(&self, indent: usize) -> String {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                self.rows
                    .iter()
                    .filter_map(|r| r.get(c))
                    .map(|cell| cell.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for row in &self.rows {
            let mut line = " ".repeat(indent);
            for (c, cell) in row.iter().enumerate() {
                line.push_str(cell);
                if c + 1 < row.len() {
                    let pad = widths[c] - cell.chars().count() + 2;
                    line.push_str(&" ".repeat(pad));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_columns_to_the_widest_cell() {
        let mut t = Table::new(["ID", "NAME"]);
        t.row(["a", "Production"]).row(["abcdef", "x"]);
        assert_eq!(t.render(0), "ID      NAME\na       Production\nabcdef  x\n");
    }

    #[test]
    fn counts_characters_not_bytes() {
        let mut t = Table::bare();
        t.row(["…", "x"]).row(["ab", "y"]);
        assert_eq!(t.render(2), "  …   x\n  ab  y\n");
    }
}
