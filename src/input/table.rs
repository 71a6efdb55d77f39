//! `Format-Table` console text, as PowerShell's `TableWriter` prints it.
//!
//! ```text
//!                                                      <- blank line
//! Name        PopEnabled    Size SmtpClientAuthenticationDisabled
//! ----        ----------    ---- --------------------------------
//! Alex Wilber True         1 GB True
//! Bea Smith…  False       12 MB
//! ```
//!
//! Quirks handled (PowerShell `TableWriter.cs`):
//! - columns are separated by one space and each cell is padded to its column's
//!   width, except in the last column; text and booleans are left-aligned,
//!   numbers right-aligned, and the header label and its rule of dashes are
//!   aligned the same way. A dash run is as long as its label (at most the column
//!   width), so it marks where a column is anchored, not where it ends: the edge
//!   between two columns is the rightmost position between their dash runs that is
//!   blank on every line of the table;
//! - a label wider than its column wraps onto several header lines (the dashes
//!   then fill the column);
//! - a value wider than its column is cut with an ellipsis: `Alex Wil…` when
//!   left-aligned, `…4567` when right-aligned (`...` in Windows PowerShell 5.1).
//!   That is data loss: each cut cell is a `truncated-cell` warning naming its
//!   line and column, and the value is kept as printed, never completed by guess;
//! - `-Wrap` prints a long value on continuation lines. A continuation line has an
//!   empty first cell, and each of its values continues a piece that could not
//!   take its first word (PowerShell fills a line before wrapping); anything else
//!   is a new row. Words are joined with the space PowerShell dropped at the break,
//!   unless the piece filled its column (a word cut in the middle);
//! - widths count display cells: East Asian wide characters take two;
//! - PowerShell 7.2+ may leave ANSI colour in redirected output: stripped;
//! - several tables (blocks separated by blank lines, each with its own header)
//!   are read as one table whose columns are the union of theirs.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use nom::bytes::complete::{take_while, take_while1};
use nom::character::complete::space0;
use nom::combinator::all_consuming;
use nom::multi::many1;
use nom::sequence::terminated;
use nom::{IResult, Parser};

use super::list::strip_ansi;
use super::value::is_truncated_cell;
use super::{HeldBack, Parsed, Record, Rejection, Source, SyntaxError, Table, Warning};

/// Display cells a character takes on a console: 2 for East Asian wide and
/// fullwidth characters, 1 otherwise (PowerShell's `DisplayCells`).
pub fn cell_width(c: char) -> usize {
    let u = c as u32;
    // Below the first wide range (every export's ASCII): one comparison.
    if u < 0x1100 {
        return 1;
    }
    let wide = matches!(u,
        0x1100..=0x115F
        | 0x2E80..=0x303E
        | 0x3041..=0x33FF
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF
        | 0xAC00..=0xD7A3
        | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6
        | 0x1F300..=0x1F64F
        | 0x1F900..=0x1F9FF
        | 0x20000..=0x2FFFD
        | 0x30000..=0x3FFFD);
    if wide { 2 } else { 1 }
}

/// Display cells a string takes.
pub fn cells(s: &str) -> usize {
    s.chars().map(cell_width).sum()
}

/// `----  ----------  --` — the rule under a table header: the `(start, end)`
/// cell span of each dash run (the rule is ASCII, so bytes are cells).
fn rule(i: &str) -> IResult<&str, Vec<(usize, usize)>> {
    let run = (space0, take_while1(|c| c == '-'));
    let (rest, runs) = all_consuming(terminated(many1(run), space0)).parse(i)?;
    let mut at = 0;
    let spans = runs
        .into_iter()
        .map(|(gap, dashes): (&str, &str)| {
            let start = at + gap.len();
            at = start + dashes.len();
            (start, at)
        })
        .collect();
    Ok((rest, spans))
}

/// True when the line is a Format-Table rule of dashes.
/// A lone `-` (one column with a one-letter label) is not taken for a rule: it is
/// more often a value.
pub fn is_rule(line: &str) -> bool {
    // (A rule's first character that is not a space is a dash.)
    line.bytes().find(|&b| b != b' ' && b != b'\t') == Some(b'-')
        && rule(line.trim_end()).is_ok_and(|(_, runs)| line.contains("--") || runs.len() > 1)
}

/// A blank line (spaces only).
fn blank(i: &str) -> IResult<&str, &str> {
    all_consuming(take_while(char::is_whitespace)).parse(i)
}

fn is_blank(line: &str) -> bool {
    blank(line).is_ok()
}

/// One line of a table block.
struct Line<'t> {
    text: &'t str,
}

impl<'t> Line<'t> {
    /// The display cells, `[start, end)`, of each run of visible characters
    /// (a word, a number), in order.
    fn visible(&self) -> impl Iterator<Item = std::ops::Range<usize>> + 't {
        let mut cursor = Cursor { text: self.text, byte: 0, cell: 0 };
        std::iter::from_fn(move || {
            cursor.skip(true);
            let start = cursor.cell;
            cursor.skip(false);
            (cursor.cell > start).then_some(start..cursor.cell)
        })
    }

    /// The first of `cells` (ascending) that holds a visible character.
    fn first_occupied(&self, cells: &[usize]) -> Option<usize> {
        let mut cells = cells.iter().copied().peekable();
        for on in self.visible() {
            while cells.next_if(|&e| e < on.start).is_some() {}
            match cells.peek() {
                Some(&e) if e < on.end => return Some(e),
                Some(_) => {}
                None => return None,
            }
        }
        None
    }

    /// The text of each column's cells, `[start, end)`, trimmed, in one walk
    /// along the line (the columns are in order). A wide character belongs to
    /// the column its first cell is in.
    fn pieces(&self, cols: &[Column]) -> Vec<&'t str> {
        let text: &'t str = self.text;
        let mut cursor = Cursor { text, byte: 0, cell: 0 };
        // The byte where the first character at or past `cell` starts (the
        // line's end past its last); the cursor only moves on, so a column
        // never starts past where it ends.
        let mut byte_at = |cell: usize| {
            while cursor.cell < cell && cursor.next_if(|_| true) {}
            cursor.byte
        };
        cols.iter()
            .map(|c| {
                debug_assert!(c.start <= c.end, "a column ends where it starts or later");
                let from = byte_at(c.start);
                text[from..byte_at(c.end)].trim()
            })
            .collect()
    }
}

/// A place in a line: a byte and the display cell it starts at.
struct Cursor<'t> {
    text: &'t str,
    byte: usize,
    cell: usize,
}

impl Cursor<'_> {
    /// Steps past the next character when `take` says so; false at the end or
    /// when it does not. An ASCII character (nearly every one in an export)
    /// is one byte and one cell, and is read without decoding.
    fn next_if(&mut self, take: impl Fn(char) -> bool) -> bool {
        let Some(&b) = self.text.as_bytes().get(self.byte) else { return false };
        let c = match b.is_ascii() {
            true => char::from(b),
            false => self.text[self.byte..].chars().next().unwrap_or_default(),
        };
        if !take(c) {
            return false;
        }
        self.byte += c.len_utf8();
        self.cell += cell_width(c);
        true
    }

    /// Steps past the characters that are white space (`white`) or that are
    /// not: a run of ASCII ones at once (a padded table's lines are mostly
    /// runs of spaces and of ASCII words), any other one by one.
    fn skip(&mut self, white: bool) {
        loop {
            let ascii = self.text.as_bytes()[self.byte..]
                .iter()
                .take_while(|&&b| b.is_ascii() && char::from(b).is_whitespace() == white)
                .count();
            self.byte += ascii;
            self.cell += ascii;
            if !self.next_if(|c| c.is_whitespace() == white) {
                return;
            }
        }
    }
}

/// A column's cell span `[start, end)`; the last column's end is the longest line.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Column {
    start: usize,
    end: usize,
    /// The last column: its real width (from the console width) is unknown.
    last: bool,
}

impl Column {
    fn width(&self) -> usize {
        self.end.saturating_sub(self.start)
    }

    /// True when a wrapped piece filled the column, so the break was inside a
    /// word and no space was dropped. In the last column only a piece without
    /// spaces as wide as the widest piece counts: a word-wrapped piece there can
    /// be the widest without filling the console.
    fn filled_by(&self, piece: &str) -> bool {
        cells(piece) >= self.width() && !(self.last && piece.contains(' '))
    }
}

/// Column spans from the dash runs, the block's longest line and the cells
/// visible on some line of the block.
fn columns(runs: &[(usize, usize)], longest: usize, used: &[bool]) -> Vec<Column> {
    let mut out = Vec::with_capacity(runs.len());
    let mut start = 0;
    for (k, &(_, run_end)) in runs.iter().enumerate() {
        let edge = match runs.get(k + 1) {
            Some(&(next_start, _)) => (run_end..next_start)
                .rev()
                .find(|&p| !used.get(p).copied().unwrap_or(false))
                .unwrap_or(next_start.saturating_sub(1)),
            None => longest.max(run_end),
        };
        out.push(Column { start, end: edge, last: k + 1 == runs.len() });
        start = edge + 1;
    }
    out
}

/// Appends a wrapped piece: PowerShell dropped the space at a break unless the
/// piece before filled its column (a word cut in the middle).
fn join_piece(value: &mut String, previous_piece: &str, piece: &str, column: &Column) {
    if !value.is_empty() && !column.filled_by(previous_piece) {
        value.push(' ');
    }
    value.push_str(piece);
}

/// True when `piece` can continue `previous` in a column of `width` cells: its
/// first word did not fit after `previous` on the line before.
fn continues(previous: &str, piece: &str, width: usize) -> bool {
    let first_word = piece.split(' ').next().unwrap_or(piece);
    !previous.is_empty() && cells(previous) + 1 + cells(first_word) > width
}

/// One line as the table reader reads it: colour and `\r` removed, then the
/// spaces at its end.
fn table_line(raw: &str) -> Cow<'_, str> {
    match strip_ansi(raw.trim_end_matches('\r')) {
        Cow::Borrowed(line) => Cow::Borrowed(line.trim_end()),
        Cow::Owned(line) => Cow::Owned(line.trim_end().to_owned()),
    }
}

/// One block (header lines, rule, rows up to a blank line) as the first pass
/// lays it out.
#[derive(Debug, Clone)]
struct Block {
    /// The lines of its rule and of the blank line after it (or one past the
    /// text's last).
    rule: usize,
    end: usize,
    cols: Vec<Column>,
    /// The cells between two columns, ascending.
    edges: Vec<usize>,
    /// Each column's place among the table's columns.
    slots: Vec<usize>,
}

/// A block being laid out by the first pass.
struct Open {
    first: usize,
    /// Its first line, for the error when no rule follows.
    first_text: String,
    header: Vec<String>,
    /// The rule's line and dash runs, once found.
    rule: Option<(usize, Vec<(usize, usize)>)>,
    /// The cells visible on some line of the block, and its longest line.
    used: Vec<bool>,
    longest: usize,
}

impl Open {
    fn add(&mut self, line: &Line) {
        self.longest = self.longest.max(cells(line.text));
        // The visible characters' cells a run at a time (a word, a number):
        // a padded million-row table has hundreds of millions of them.
        let mut run: Option<std::ops::Range<usize>> = None;
        for visible in line.visible() {
            match &mut run {
                Some(r) if r.end == visible.start => r.end = visible.end,
                _ => {
                    if let Some(done) = run.replace(visible) {
                        self.mark(done);
                    }
                }
            }
        }
        if let Some(done) = run {
            self.mark(done);
        }
    }

    /// Marks `cells` as holding something.
    fn mark(&mut self, cells: std::ops::Range<usize>) {
        if self.used.len() < cells.end {
            self.used.resize(cells.end, false);
        }
        self.used[cells].fill(true);
    }
}

/// What a first pass over Format-Table text finds, for the reader to read
/// each row as it comes: each block's columns (a column's edge depends on
/// every line of its block), and the table's columns, the union of the
/// blocks' labels in the order they first appear.
#[derive(Debug, Clone, Default)]
pub(crate) struct Layout {
    blocks: Vec<Block>,
    columns: Vec<String>,
    index: HashMap<String, usize>,
}

/// The first pass, a line at a time.
pub(crate) struct Survey<'f> {
    file: &'f Arc<str>,
    layout: Layout,
    open: Option<Open>,
}

impl<'f> Survey<'f> {
    pub(crate) fn new(file: &'f Arc<str>) -> Survey<'f> {
        Survey { file, layout: Layout::default(), open: None }
    }

    /// Takes line `number` (without its `\n`).
    pub(crate) fn add(&mut self, number: usize, raw: &str) -> Result<(), SyntaxError> {
        let text = table_line(raw);
        if is_blank(&text) {
            return self.close(number);
        }
        let line = Line { text: &text };
        let Some(open) = &mut self.open else {
            self.open = Some(Open {
                first: number,
                first_text: text.to_string(),
                header: vec![text.to_string()],
                rule: None,
                used: Vec::new(),
                longest: 0,
            });
            if let Some(open) = &mut self.open {
                open.add(&line);
            }
            return Ok(());
        };
        open.add(&line);
        if open.rule.is_none() {
            if is_rule(&text) {
                let (_, runs) = rule(&text).map_err(|_| {
                    SyntaxError::new(
                        self.file,
                        number,
                        1,
                        "unreadable rule of dashes under the table header",
                    )
                })?;
                open.rule = Some((number, runs));
            } else {
                open.header.push(text.to_string());
            }
        }
        Ok(())
    }

    /// Ends the block being laid out, if any, at line `end` (a blank line, or
    /// one past the text's last).
    fn close(&mut self, end: usize) -> Result<(), SyntaxError> {
        let Some(open) = self.open.take() else { return Ok(()) };
        let Some((rule_line, runs)) = open.rule else {
            return Err(SyntaxError::new(
                self.file,
                open.first,
                1,
                format!(
                    "expected a Format-Table header followed by a rule of dashes, found {:?}",
                    super::list::truncate_for_message(&open.first_text)
                ),
            ));
        };
        let cols = columns(&runs, open.longest, &open.used);
        let header: Vec<Vec<&str>> =
            open.header.iter().map(|text| Line { text }.pieces(&cols)).collect();
        let layout = &mut self.layout;
        let slots = cols
            .iter()
            .enumerate()
            .map(|(k, c)| {
                // Labels, joined across header lines.
                let mut label = String::new();
                let mut previous = "";
                for line in &header {
                    let piece = line[k];
                    if !piece.is_empty() {
                        join_piece(&mut label, previous, piece, c);
                        previous = piece;
                    }
                }
                if label.is_empty() {
                    label = format!("Column{}", k + 1);
                }
                *layout.index.entry(label.clone()).or_insert_with(|| {
                    layout.columns.push(label);
                    layout.columns.len() - 1
                })
            })
            .collect();
        let edges = cols.iter().take(cols.len().saturating_sub(1)).map(|c| c.end).collect();
        layout.blocks.push(Block { rule: rule_line, end, cols, edges, slots });
        Ok(())
    }

    /// Ends the text after line `last`.
    pub(crate) fn finish(mut self, last: usize) -> Result<Layout, SyntaxError> {
        self.close(last + 1)?;
        Ok(self.layout)
    }
}

impl Layout {
    /// The table's columns, in the order they first appear.
    pub(crate) fn columns(&self) -> &[String] {
        &self.columns
    }
}

/// A row being read: its first line, its values, and the line each value's
/// last piece came from.
#[derive(Debug, Clone)]
struct Row {
    line: usize,
    values: Vec<String>,
    from: Vec<usize>,
}

/// Reads Format-Table text a line at a time into records, with the
/// [`Layout`] a first pass found. A row is handed on once the next row has
/// begun (until then a continuation line may add to it), and the last one
/// once the text has ended, for the end may show it cut.
pub(crate) struct Reader<'a> {
    file: &'a Arc<str>,
    layout: &'a Layout,
    /// The block the lines are in (or the next one).
    block: usize,
    /// The block's row being read.
    row: Option<Row>,
    /// The pieces of the block's line before (none after a rejected line).
    previous: Vec<String>,
    /// The last record completed, not handed on yet.
    last: HeldBack,
    rejected: Vec<Rejection>,
    warnings: Vec<Warning>,
    truncated: Vec<(usize, String)>,
    /// Which columns' cut cells the caller rejects a row for: such rows are
    /// not handed on, only counted.
    rejects_cut: Option<&'a (dyn Fn(&str) -> bool + Sync)>,
    dropped: usize,
}

/// The cells with text of a record (every cell of a row is there).
fn filled(record: &Record) -> usize {
    record.values.iter().flatten().filter(|v| !v.is_empty()).count()
}

/// Where a [`Reader`] is between two lines: what it needs to read on from
/// the next one (the block, the row being read, the line before's pieces,
/// the record held back and its cut cells), without what it has said so far.
#[derive(Debug, Clone, Default)]
pub struct State {
    block: usize,
    row: Option<Row>,
    previous: Vec<String>,
    last: HeldBack,
    truncated: Vec<(usize, String)>,
}

impl<'a> Reader<'a> {
    /// A reader of the text `layout` was made of; with `rejects_cut`, rows
    /// with a cut cell in a column it names are not handed on.
    pub(crate) fn new(
        file: &'a Arc<str>,
        layout: &'a Layout,
        rejects_cut: Option<&'a (dyn Fn(&str) -> bool + Sync)>,
    ) -> Reader<'a> {
        Reader::resume(file, layout, rejects_cut, State::default())
    }

    /// A reader that reads on from where [`Reader::state`] was taken.
    pub(crate) fn resume(
        file: &'a Arc<str>,
        layout: &'a Layout,
        rejects_cut: Option<&'a (dyn Fn(&str) -> bool + Sync)>,
        state: State,
    ) -> Reader<'a> {
        let State { block, row, previous, last, truncated } = state;
        Reader {
            file,
            layout,
            block,
            row,
            previous,
            last,
            rejected: Vec::new(),
            warnings: Vec::new(),
            truncated,
            rejects_cut,
            dropped: 0,
        }
    }

    /// Where the reader is (see [`State`]).
    pub(crate) fn state(&self) -> State {
        // The cut cells of the record held back decide whether it is handed on.
        let held = self.last.line().unwrap_or(usize::MAX);
        let cut = self.truncated.iter().rev().take_while(|(l, _)| *l >= held);
        let mut truncated: Vec<_> = cut.cloned().collect();
        truncated.reverse();
        State {
            block: self.block,
            row: self.row.clone(),
            previous: self.previous.clone(),
            last: self.last.clone(),
            truncated,
        }
    }

    /// Reads line `number` (without its `\n`); completed records go to `emit`.
    pub(crate) fn line(&mut self, number: usize, raw: &str, emit: &mut dyn FnMut(Record)) {
        let layout = self.layout;
        while layout.blocks.get(self.block).is_some_and(|b| number >= b.end) {
            self.complete(emit);
            self.previous.clear();
            self.block += 1;
        }
        let Some(block) = layout.blocks.get(self.block) else { return };
        if number <= block.rule {
            return;
        }
        let text = table_line(raw);
        let line = Line { text: &text };
        let cols = &block.cols;
        // A character on a column edge means the line does not fit the layout.
        if let Some(edge) = line.first_occupied(&block.edges) {
            self.rejected.push(Rejection {
                source: Source { file: crate::model::Text::new(self.file), line: number },
                reason: format!(
                    "the row does not fit the table's columns (a character at column {}, on the edge between two columns); re-export with Export-Csv",
                    edge + 1
                ),
            });
            self.previous.clear();
            return;
        }
        let pieces: Vec<String> = line.pieces(cols).into_iter().map(str::to_owned).collect();
        let previous = &self.previous;
        let is_continuation = self.row.is_some()
            && previous.len() == pieces.len()
            && pieces.first().is_some_and(String::is_empty)
            && pieces.iter().any(|p| !p.is_empty())
            && pieces
                .iter()
                .zip(previous)
                .zip(cols)
                .all(|((p, prev), c)| p.is_empty() || continues(prev, p, c.width()));
        match self.row.as_mut().filter(|_| is_continuation) {
            Some(row) => {
                for (k, piece) in pieces.iter().enumerate() {
                    if !piece.is_empty() {
                        join_piece(&mut row.values[k], &previous[k], piece, &cols[k]);
                        row.from[k] = number;
                    }
                }
            }
            None => {
                self.complete(emit);
                let from = vec![number; pieces.len()];
                self.row = Some(Row { line: number, values: pieces.clone(), from });
            }
        }
        self.previous = pieces;
    }

    /// Ends the row being read, if any: a record as wide as the table, with a
    /// warning for each cell cut to fit the console (data loss).
    fn complete(&mut self, emit: &mut dyn FnMut(Record)) {
        let Some(Row { line, values, from }) = self.row.take() else { return };
        let block = &self.layout.blocks[self.block];
        let columns = &self.layout.columns;
        let mut record = vec![None; columns.len()];
        for (k, value) in values.into_iter().enumerate() {
            let column = &columns[block.slots[k]];
            if is_truncated_cell(&value) {
                self.truncated.push((line, column.clone()));
                self.warnings.push(Warning {
                    code: "truncated-cell",
                    source: Some(Source { file: crate::model::Text::new(self.file), line: from[k] }),
                    message: format!(
                        "{column} (column {}) was cut to fit the console ({value:?}): the value is lost; re-export with `Export-Csv -NoTypeInformation -Encoding UTF8` (or Format-Table -AutoSize -Wrap)",
                        block.cols[k].start + 1,
                    ),
                });
            }
            record[block.slots[k]] = Some(value);
        }
        if let Some(previous) = self.last.hold(Record { line, values: record }, filled) {
            self.hand_on(previous, emit);
        }
    }

    /// Hands a record on, unless a cell it lost is one the caller rejects it for.
    fn hand_on(&mut self, record: Record, emit: &mut dyn FnMut(Record)) {
        let rejected = self.rejects_cut.is_some_and(|rejects| {
            // (A row's cut cells are the last noted, or nearly.)
            let cut = self.truncated.iter().rev().take_while(|(l, _)| *l >= record.line);
            cut.filter(|(l, _)| *l == record.line).any(|(_, column)| rejects(column))
        });
        match rejected {
            true => self.dropped += 1,
            false => emit(record),
        }
    }

    /// Ends the text, which `ended` with a line break or not; the last row is
    /// rejected when the end shows it cut ([`HeldBack`]). Returns the
    /// rejections, the warnings, and the cells cut to fit the console (see
    /// [`Parsed::truncated`]), with how many rows it did not hand on for a
    /// cut cell.
    pub(crate) fn finish(mut self, ended: bool, emit: &mut dyn FnMut(Record)) -> (Parsed, usize) {
        self.complete(emit);
        match std::mem::take(&mut self.last).finish(ended, self.file, "row", filled) {
            Some(Ok(last)) => self.hand_on(last, emit),
            Some(Err(cut)) => self.rejected.push(cut),
            None => {}
        }
        let parsed = Parsed {
            table: Table::default(),
            rejected: self.rejected,
            warnings: self.warnings,
            truncated: self.truncated,
        };
        (parsed, self.dropped)
    }
}

/// Parses Format-Table text into records: the [`Layout`], then the [`Reader`].
pub fn parse(file: &Arc<str>, text: &str) -> Result<Parsed, SyntaxError> {
    let mut survey = Survey::new(file);
    let mut last = 0;
    for (n, raw) in text.split('\n').enumerate() {
        survey.add(n + 1, raw)?;
        last = n + 1;
    }
    let layout = survey.finish(last)?;
    let mut rows = Vec::new();
    let mut reader = Reader::new(file, &layout, None);
    for (n, raw) in text.split('\n').enumerate() {
        reader.line(n + 1, raw, &mut |r| rows.push(r));
    }
    let (mut parsed, _) = reader.finish(text.ends_with('\n'), &mut |r| rows.push(r));
    parsed.table = Table { columns: layout.columns, rows };
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str) -> Parsed {
        parse(&Arc::from("T.txt"), text).unwrap()
    }

    fn values(p: &Parsed) -> Vec<Vec<&str>> {
        p.table
            .rows
            .iter()
            .map(|r| r.values.iter().map(|v| v.as_deref().unwrap_or("<none>")).collect())
            .collect()
    }

    /// A block's survey before any line is added.
    fn survey_of_nothing() -> Open {
        Open {
            first: 1,
            first_text: String::new(),
            header: Vec::new(),
            rule: None,
            used: Vec::new(),
            longest: 0,
        }
    }

    /// A line's display cells, each with whether a visible character is in
    /// it, laid out one character at a time: the oracle for [`Line`]'s walks.
    fn cell_by_cell(text: &str) -> Vec<(usize, bool)> {
        text.char_indices()
            .flat_map(|(byte, c)| std::iter::repeat_n((byte, !c.is_whitespace()), cell_width(c)))
            .collect()
    }

    proptest::proptest! {
        /// One walk along a line cuts it into columns and finds a character on
        /// a column edge exactly as looking at every cell does.
        #[test]
        fn one_walk_reads_a_line_as_cell_by_cell(
            text in "[a b山é…\t\u{a0}\u{3000}\u{b}-]{0,24}",
            bounds in proptest::collection::btree_set(0..30usize, 1..8),
        ) {
            let line = Line { text: &text };
            let cells = cell_by_cell(&text);
            // Columns [start, end) whose edges are the chosen cells, as `columns` makes them.
            let bounds: Vec<usize> = bounds.into_iter().collect();
            let mut cols = Vec::new();
            let mut start = 0;
            for (k, &end) in bounds.iter().enumerate() {
                cols.push(Column { start, end, last: k + 1 == bounds.len() });
                start = end + 1;
            }
            let edges: Vec<usize> = cols.iter().take(cols.len() - 1).map(|c| c.end).collect();
            // The survey marks exactly the cells a visible character is in.
            let mut open = survey_of_nothing();
            open.add(&line);
            let mut used: Vec<bool> = cells.iter().map(|c| c.1).collect();
            while used.last() == Some(&false) {
                used.pop();
            }
            proptest::prop_assert_eq!(&open.used, &used);
            proptest::prop_assert_eq!(open.longest, cells.len());
            let expected_edge = edges.iter().copied().find(|&e| cells.get(e).is_some_and(|c| c.1));
            proptest::prop_assert_eq!(line.first_occupied(&edges), expected_edge);
            for (c, piece) in cols.iter().zip(line.pieces(&cols)) {
                // A character belongs to the column its first cell is in.
                let first = |cell: usize| {
                    cells.iter().enumerate().find(|&(at, &(byte, _))| {
                        at >= cell && (at == 0 || cells[at - 1].0 != byte)
                    })
                };
                let from = first(c.start).map(|(_, &(byte, _))| byte);
                let to = first(c.end).map_or(text.len(), |(_, &(byte, _))| byte);
                let expected = match from {
                    Some(from) if from <= to => text[from..to].trim(),
                    _ => "",
                };
                proptest::prop_assert_eq!(piece, expected, "{:?}", c);
            }
        }
    }

    #[test]
    fn a_wide_character_fills_both_its_cells_when_edges_are_placed() {
        // 山 takes cells 4 and 5: the only blank cell between the runs is 3.
        let lines = ["Nam   Pop", "---   ---", "abc 山Tru"].map(|text| Line { text });
        let mut open = survey_of_nothing();
        lines.iter().for_each(|l| open.add(l));
        let cols = columns(&[(0, 3), (6, 9)], open.longest, &open.used);
        assert_eq!(cols[0].end, 3, "{cols:?}");
        assert_eq!(lines[2].pieces(&cols), ["abc", "山Tru"]);
    }

    #[test]
    fn rule_runs() {
        assert_eq!(rule("----  ---------- --"), Ok(("", vec![(0, 4), (6, 16), (17, 19)])));
        assert_eq!(rule("   --- -"), Ok(("", vec![(3, 6), (7, 8)])));
        assert!(rule("-- x --").is_err());
        assert!(rule("").is_err());
        assert!(is_rule("---- ----"));
        assert!(!is_rule("-"));
        assert!(is_rule("- -"));
        assert!(!is_rule("--- abc"));
    }

    #[test]
    fn cell_widths() {
        assert_eq!(cells("Zoë"), 3);
        assert_eq!(cells("山田"), 4);
        // The first wide character, and the last narrow one before it.
        assert_eq!(cells("\u{1100}\u{10FF}"), 3);
    }

    #[test]
    fn padded_left_and_right_aligned_cells() {
        let p = run(
            "\r\nName        PopEnabled Size SmtpClientAuthenticationDisabled\r\n----        ---------- ---- --------------------------------\r\nAlex Wilber True       1234 True\r\nBea         False        12\r\n\r\n\r\n",
        );
        assert_eq!(
            p.table.columns,
            ["Name", "PopEnabled", "Size", "SmtpClientAuthenticationDisabled"]
        );
        assert_eq!(
            values(&p),
            [["Alex Wilber", "True", "1234", "True"], ["Bea", "False", "12", ""]]
        );
        assert_eq!(p.table.rows[1].line, 5);
        assert!(p.warnings.is_empty() && p.rejected.is_empty());
    }

    #[test]
    fn right_aligned_values_wider_than_their_label() {
        // `Id` is right-aligned and its values are wider than the label.
        let p = run("Name     Id\n----     --\nalpha 12345\nb         7\n");
        assert_eq!(values(&p), [["alpha", "12345"], ["b", "7"]]);
    }

    #[test]
    fn truncated_cells_warn_with_line_and_column() {
        let p = run(
            "Name       Policy\n----       ------\nAlex Wil…  Block Basic...\nBea        …4567\n",
        );
        assert_eq!(p.warnings.len(), 3);
        let w: Vec<(usize, &str)> = p
            .warnings
            .iter()
            .map(|w| (w.source.as_ref().unwrap().line, w.message.as_str()))
            .collect();
        assert_eq!(w[0].0, 3);
        assert!(w[0].1.starts_with("Name (column 1) was cut"), "{}", w[0].1);
        assert!(w[1].1.starts_with("Policy (column 12) was cut"), "{}", w[1].1);
        assert_eq!(w[2].0, 4);
        // The values are kept as printed, not completed.
        assert_eq!(values(&p)[0], ["Alex Wil…", "Block Basic..."]);
    }

    #[test]
    fn wrap_continuation_rows() {
        let p = run(concat!(
            "Name       Note\n",
            "----       ----\n",
            "Alex       Head of\n",
            "           Sales and\n",
            "           Marketing\n",
            "Bea        ok\n",
            "           \n",
        ));
        assert_eq!(values(&p), [["Alex", "Head of Sales and Marketing"], ["Bea", "ok"]]);
        let p = run(concat!(
            "Name   Guid\n",
            "----   ----\n",
            "Alex   0123456789\n",
            "       abcdef\n",
        ));
        // `0123456789` filled the last column: a word cut in the middle.
        assert_eq!(values(&p), [["Alex", "0123456789abcdef"]]);
    }

    #[test]
    fn empty_first_cell_that_cannot_be_a_wrap_is_a_new_row() {
        let p = run("Name  PopEnabled\n----  ----------\nAlex  True\n      False\n");
        assert_eq!(values(&p), [["Alex", "True"], ["", "False"]]);
    }

    #[test]
    fn multi_line_header_and_wide_characters() {
        let p = run(concat!(
            "Display  Smtp\n",
            "Name     Enabled\n",
            "-------- -------\n",
            "山田     True\n",
            "Zoë      False\n",
        ));
        assert_eq!(p.table.columns, ["Display Name", "Smtp Enabled"]);
        assert_eq!(values(&p), [["山田", "True"], ["Zoë", "False"]]);
    }

    #[test]
    fn several_tables_union_their_columns() {
        let p = run("AA BB\n-- --\n1  2\n\n\nAA CC\n-- --\n3  4\n");
        assert_eq!(p.table.columns, ["AA", "BB", "CC"]);
        assert_eq!(values(&p), [["1", "2", "<none>"], ["3", "<none>", "4"]]);
    }

    #[test]
    fn a_row_is_rejected_as_cut_only_when_the_text_ends_inside_it() {
        let table = "Name PopEnabled Size\n---- ---------- ----\nAlex True       12\nBea  False";
        let p = parse(&Arc::from("T.txt"), table).unwrap();
        assert_eq!(values(&p), [["Alex", "True", "12"]]);
        assert_eq!(p.rejected[0].source.line, 4);
        assert!(p.rejected[0].reason.starts_with("truncated row"), "{}", p.rejected[0].reason);
        // Whole: as many cells with text, or a line break at the end.
        for whole in [format!("{table}       7"), format!("{table}\n")] {
            let p = parse(&Arc::from("T.txt"), &whole).unwrap();
            assert_eq!((p.table.rows.len(), p.rejected.len()), (2, 0), "{whole:?}");
        }
    }

    #[test]
    fn a_row_across_a_column_edge_is_rejected() {
        let p = run("Name Pop\n---- ---\nAlexandra True\nBea  True\n");
        assert_eq!(p.rejected.len(), 1);
        assert_eq!(p.rejected[0].source.line, 3);
        assert_eq!(values(&p), [["Bea", "True"]]);
    }

    #[test]
    fn text_without_a_rule_is_a_syntax_error() {
        let err = parse(&Arc::from("T.txt"), "Name Pop\nAlex True\n").unwrap_err();
        assert_eq!((err.line, err.column), (1, 1));
    }
}
