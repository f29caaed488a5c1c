//! Positions: the compiler counts bytes of the normalised text (LF line
//! endings, no byte-order mark); the protocol counts lines and UTF-16 code
//! units. Both sides read the same lines, so a conversion needs only the
//! text of one line.

use lsp_types::{Position, Range};

/// A text's line starts, for converting byte offsets and positions.
pub(crate) struct Lines<'t> {
    text: &'t str,
    starts: Vec<usize>,
}

impl<'t> Lines<'t> {
    pub(crate) fn new(text: &'t str) -> Lines<'t> {
        let starts = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
        Lines { text, starts }
    }

    /// The position of a byte offset (clamped to the text, and to a
    /// character boundary before it).
    pub(crate) fn position(&self, offset: usize) -> Position {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.starts.partition_point(|&s| s <= offset).saturating_sub(1);
        let start = self.starts[line];
        let character = self.text[start..offset].encode_utf16().count();
        Position::new(line as u32, character as u32)
    }

    pub(crate) fn range(&self, start: usize, end: usize) -> Range {
        Range::new(self.position(start), self.position(end))
    }

    /// The byte offset of a position; a position past the end of its line
    /// is the line's end, one past the last line the text's end.
    pub(crate) fn offset(&self, position: Position) -> usize {
        let Some(&start) = self.starts.get(position.line as usize) else { return self.text.len() };
        let end = self.starts.get(position.line as usize + 1).map_or(self.text.len(), |next| next - 1);
        let mut units = 0;
        for (i, c) in self.text[start..end].char_indices() {
            if units >= position.character as usize {
                return start + i;
            }
            units += c.len_utf16();
        }
        end
    }

    /// The range of the whole text.
    pub(crate) fn all(&self) -> Range {
        self.range(0, self.text.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_and_positions_agree_beyond_ascii() {
        let text = "rule A \"é😀\" {\n  let x = 1\n}\n";
        let lines = Lines::new(text);
        // `{` after a two-byte and a four-byte character: 1 + 2 UTF-16
        // units, 6 bytes; 10 ASCII characters besides.
        let brace = text.find('{').unwrap_or_default();
        let at = lines.position(brace);
        assert_eq!(at, Position::new(0, 13));
        assert_eq!(lines.offset(at), brace);
        assert_eq!(lines.position(text.find("let").unwrap_or_default()), Position::new(1, 2));
        assert_eq!(lines.offset(Position::new(1, 99)), text.find("1\n").unwrap_or_default() + 1);
        assert_eq!(lines.offset(Position::new(9, 0)), text.len());
        // Inside the emoji: the start of it.
        let emoji = text.find('😀').unwrap_or_default();
        assert_eq!(lines.position(emoji + 2), lines.position(emoji));
    }
}
