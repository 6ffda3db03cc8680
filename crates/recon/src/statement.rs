//! Statement import: the bytes of a statement, as a bank or the simulator writes it, to
//! [`ProviderRow`]s through a [`Profile`]. CSV (UTF-8 or Windows-1254, separated by `;`,
//! tab, `,` or `|`) or an XLSX workbook (its first sheet), told apart by their bytes.
//!
//! All or nothing by default: every bad row is reported with its line number and
//! reason, and [`parse_statement`] imports nothing from a file with any bad row, so a
//! person decides before half a day lands. [`read_statement`] gives both parts, for
//! when the person has decided to take the good rows and leave the bad ones out.

use std::borrow::Cow;
use std::collections::HashMap;
use std::num::NonZeroU32;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use serde::{Deserialize, Serialize};

use sanalpos_core::{AuthCode, Currency, Kurus, MaskedPan, ProviderRef};

use crate::profile::{fold, Field, NumberStyle, Profile, TR_DATE, TR_DATE_TIME};
use crate::row::{ProviderRow, RowKind, RowState};

/// One row that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRow {
    /// The 1-based line of the file where the row starts (the header is line 1).
    pub line: u32,
    /// What is wrong, naming the column (English, for logs and API clients).
    pub reason: String,
    /// The same as data, for a page to write in its reader's language.
    pub problem: RowProblem,
}

/// What is wrong with a row, as data: a kind and its parameters, so every language
/// writes it from its own catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RowProblem {
    /// The row has `found` fields where the header has `expected`.
    FieldCount {
        /// Fields in the row.
        found: usize,
        /// Fields in the header.
        expected: usize,
    },
    /// A column that must hold a value is empty.
    Empty {
        /// The column's header as the file writes it.
        column: String,
    },
    /// A cell does not hold what its column should.
    Invalid {
        /// The column's header as the file writes it.
        column: String,
        /// What the cell holds.
        value: String,
        /// What it should hold.
        expected: ExpectedValue,
    },
    /// A report row of a transaction type the engine cannot reason about.
    UnknownTransactionType {
        /// The type as the provider wrote it.
        text: String,
    },
    /// A report row of a status the engine cannot reason about.
    UnknownStatus {
        /// The status as the provider wrote it.
        text: String,
    },
    /// A report row without an amount.
    NoAmount,
}

/// What a cell should have held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpectedValue {
    /// An amount (at most two decimals, not negative).
    Amount,
    /// A provider reference.
    Reference,
    /// A transaction type the profile knows.
    TransactionType,
    /// A status the profile knows.
    Status,
    /// An installment count.
    Installments,
    /// A masked card number.
    MaskedPan,
    /// A date and time.
    DateTime,
    /// A date.
    Date,
    /// A currency code.
    Currency,
}

/// Why a statement imported nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    /// The file has no header line.
    #[error("the file is empty")]
    Empty,
    /// A column the profile maps is not in the header.
    #[error("the header has no column {0:?}")]
    MissingColumn(String),
    /// The file looks like a spreadsheet (XLSX) that cannot be read.
    #[error("the spreadsheet cannot be read: {0}")]
    Spreadsheet(String),
    /// The file could not be read to its end.
    #[error("the file cannot be read: {0}")]
    Read(String),
    /// Rows that could not be read; every one of them, in file order.
    #[error("{} rows could not be read (first: line {}: {})", .0.len(), .0.first().map_or(0, |b| b.line), .0.first().map_or("", |b| b.reason.as_str()))]
    BadRows(Vec<BadRow>),
}

/// Text decoded from a statement's bytes: UTF-8 when valid (a BOM is dropped), else
/// Windows-1254, what Excel in Türkiye saves.
pub fn decode(bytes: &[u8]) -> Cow<'_, str> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => {
            encoding_rs::WINDOWS_1254
                .decode_without_bom_handling(bytes)
                .0
        }
    }
}

/// The separator the header line uses most among `;`, tab, `,` and `|` (outside quotes);
/// `;` on a tie or when none is present.
pub fn detect_delimiter(text: &str) -> u8 {
    const CANDIDATES: [u8; 4] = [b';', b'\t', b',', b'|'];
    let mut counts = [0usize; 4];
    let mut quoted = false;
    for b in text.bytes() {
        match b {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => break,
            _ if !quoted => {
                if let Some(i) = CANDIDATES.iter().position(|c| *c == b) {
                    counts[i] += 1;
                }
            }
            _ => {}
        }
    }
    let mut best = 0;
    for i in 1..CANDIDATES.len() {
        if counts[i] > counts[best] {
            best = i;
        }
    }
    CANDIDATES[best]
}

/// One cell of a record: text from a CSV file, or a typed spreadsheet value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell<'a> {
    /// Text as written.
    Text(Cow<'a, str>),
    /// A spreadsheet number.
    Number(f64),
    /// A spreadsheet date (midnight when it has no time).
    Time(NaiveDateTime),
}

impl Cell<'_> {
    /// The cell as text: numbers without a needless `.0`, times as `dd.MM.yyyy HH:mm:ss`.
    fn text(&self) -> Cow<'_, str> {
        match self {
            Cell::Text(t) => Cow::Borrowed(t.as_ref()),
            Cell::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => {
                Cow::Owned(format!("{}", *n as i64))
            }
            Cell::Number(n) => Cow::Owned(n.to_string()),
            Cell::Time(t) => Cow::Owned(t.format(TR_DATE_TIME).to_string()),
        }
    }
}

/// A spreadsheet number as kuruş: non-negative, at most two decimals.
fn kurus_of(n: f64) -> Result<Kurus, String> {
    if !n.is_finite() || !(0.0..1e13).contains(&n) {
        return Err("not an amount".to_owned());
    }
    let cents = (n * 100.0).round();
    if (n * 100.0 - cents).abs() > 1e-6 {
        return Err("more than two decimals".to_owned());
    }
    Kurus::from_minor(cents as i64).ok_or_else(|| "not an amount".to_owned())
}

/// A record: its cells and the line (CSV) or sheet row (XLSX) it starts on.
pub(crate) struct Record<'a> {
    pub(crate) line: u32,
    pub(crate) fields: Vec<Cell<'a>>,
}

/// Splits CSV text into records: quoted fields may hold the separator, `""` for a
/// quote, and line breaks; CRLF and LF both end a record. Works on bytes, which is safe
/// because every byte it looks at is ASCII and never part of a UTF-8 sequence.
struct Records<'a> {
    text: &'a str,
    pos: usize,
    line: u32,
    delimiter: u8,
}

impl<'a> Records<'a> {
    fn new(text: &'a str, delimiter: u8) -> Records<'a> {
        Records {
            text,
            pos: 0,
            line: 1,
            delimiter,
        }
    }

    fn field(&mut self) -> Cow<'a, str> {
        let bytes = self.text.as_bytes();
        if bytes.get(self.pos) == Some(&b'"') {
            self.pos += 1;
            let mut owned: Option<String> = None;
            let mut start = self.pos;
            loop {
                match bytes.get(self.pos) {
                    None => break,
                    Some(b'"') if bytes.get(self.pos + 1) == Some(&b'"') => {
                        owned
                            .get_or_insert_with(String::new)
                            .push_str(&self.text[start..=self.pos]);
                        self.pos += 2;
                        start = self.pos;
                    }
                    Some(b'"') => break,
                    Some(b) => {
                        if *b == b'\n' {
                            self.line += 1;
                        }
                        self.pos += 1;
                    }
                }
            }
            let tail = &self.text[start..self.pos.min(bytes.len())];
            self.pos += 1;
            // Text between the closing quote and the separator is kept, as Excel does.
            let rest_start = self.pos.min(bytes.len());
            while self.pos < bytes.len() && !self.at_end_of_field() {
                self.pos += 1;
            }
            let mut rest_end = self.pos.min(bytes.len());
            if rest_end > rest_start && bytes[rest_end - 1] == b'\r' {
                rest_end -= 1;
            }
            let rest = &self.text[rest_start..rest_end];
            match owned {
                Some(mut s) => {
                    s.push_str(tail);
                    s.push_str(rest);
                    Cow::Owned(s)
                }
                None if rest.is_empty() => Cow::Borrowed(tail),
                None => Cow::Owned(format!("{tail}{rest}")),
            }
        } else {
            let start = self.pos;
            self.pos = memchr::memchr2(self.delimiter, b'\n', &bytes[start..])
                .map_or(bytes.len(), |n| start + n);
            let mut end = self.pos;
            if end > start && bytes[end - 1] == b'\r' && bytes.get(end) == Some(&b'\n') {
                end -= 1;
            }
            Cow::Borrowed(&self.text[start..end])
        }
    }

    fn at_end_of_field(&self) -> bool {
        let b = self.text.as_bytes()[self.pos];
        b == self.delimiter || b == b'\n'
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Record<'a>;

    fn next(&mut self) -> Option<Record<'a>> {
        let mut record = Record {
            line: 0,
            fields: Vec::with_capacity(16),
        };
        self.fill(&mut record).then_some(record)
    }
}

impl<'a> Records<'a> {
    /// The next record into `record`, reusing its field vector (one allocation per
    /// file instead of one per line); `false` at the end.
    fn fill(&mut self, record: &mut Record<'a>) -> bool {
        if !self.skip_blank_lines() {
            return false;
        }
        let bytes = self.text.as_bytes();
        record.line = self.line;
        record.fields.clear();
        loop {
            let field = self.field();
            record.fields.push(Cell::Text(field));
            match bytes.get(self.pos) {
                Some(b) if *b == self.delimiter => self.pos += 1,
                Some(b'\n') => {
                    self.pos += 1;
                    self.line += 1;
                    break;
                }
                _ => break,
            }
        }
        true
    }

    /// Skips blank lines; `false` at the end of the text.
    fn skip_blank_lines(&mut self) -> bool {
        let bytes = self.text.as_bytes();
        loop {
            if self.pos >= bytes.len() {
                return false;
            }
            let rest = &bytes[self.pos..];
            let blank = if rest.starts_with(b"\r\n") {
                2
            } else if rest.starts_with(b"\n") {
                1
            } else {
                return true;
            };
            self.pos += blank;
            self.line += 1;
        }
    }

    /// [`Records::fill`] for text that holds no quote: the record is its line (its end
    /// found with `memchr`), split at each separator ([`each_position`]).
    fn fill_plain(&mut self, record: &mut Record<'a>) -> bool {
        if !self.skip_blank_lines() {
            return false;
        }
        record.line = self.line;
        record.fields.clear();
        let bytes = self.text.as_bytes();
        let start = self.pos;
        let end = memchr::memchr(b'\n', &bytes[start..]).map_or(bytes.len(), |n| start + n);
        let mut field = start;
        each_position(&bytes[start..end], self.delimiter, |at| {
            record
                .fields
                .push(Cell::Text(Cow::Borrowed(&self.text[field..start + at])));
            field = start + at + 1;
        });
        // A line break ends the record; a carriage return right before it is not text.
        let mut last = end;
        if end < bytes.len() {
            if last > field && bytes[last - 1] == b'\r' {
                last -= 1;
            }
            self.pos = end + 1;
            self.line += 1;
        } else {
            self.pos = end;
        }
        record
            .fields
            .push(Cell::Text(Cow::Borrowed(&self.text[field..last])));
        true
    }
}

/// Calls `found` with each position of `byte` in `line`, in order, looking at eight bytes
/// at a time: a line's fields are short, and a search call for each would cost more than
/// the field.
fn each_position(line: &[u8], byte: u8, mut found: impl FnMut(usize)) {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let pattern = 0x0101_0101_0101_0101 * u64::from(byte);
    let mut words = line.chunks_exact(8);
    let mut base = 0;
    for chunk in &mut words {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        // A byte of `x` is zero where the line has `byte`; `zeros` has the high bit of
        // exactly those bytes (no carry crosses from one byte to the next).
        let x = u64::from_le_bytes(word) ^ pattern;
        let mut zeros = !(((x & LOW7) + LOW7) | x | LOW7);
        while zeros != 0 {
            found(base + (zeros.trailing_zeros() / 8) as usize);
            zeros &= zeros - 1;
        }
        base += 8;
    }
    for (i, b) in words.remainder().iter().enumerate() {
        if *b == byte {
            found(base + i);
        }
    }
}

/// A statement read row by row: the rows that could be read and those that could not.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// The rows read, in file order.
    pub rows: Vec<ProviderRow>,
    /// The rows that could not be read, in file order.
    pub bad: Vec<BadRow>,
}

/// Reads a statement file: an XLSX workbook (its first sheet), or CSV whose encoding and
/// separator are detected. Maps the header through `profile` and returns every row, or
/// every problem.
pub fn parse_statement(bytes: &[u8], profile: &Profile) -> Result<Vec<ProviderRow>, ImportError> {
    let statement = read_statement(bytes, profile)?;
    if statement.bad.is_empty() {
        Ok(statement.rows)
    } else {
        Err(ImportError::BadRows(statement.bad))
    }
}

/// Like [`parse_statement`], but a file whose header maps keeps its good rows beside
/// its bad ones; an unreadable file or header is still an error.
pub fn read_statement(bytes: &[u8], profile: &Profile) -> Result<Statement, ImportError> {
    if crate::xlsx::is_xlsx(bytes) {
        let mut records = crate::xlsx::records(bytes)?.into_iter();
        let header = records.next().ok_or(ImportError::Empty)?;
        let layout = Layout::new(&header, profile)?;
        let capacity = records.len();
        return Ok(layout.rows(
            |record| records.next().map(|next| *record = next).is_some(),
            capacity,
        ));
    }
    let text = decode(bytes);
    let delimiter = detect_delimiter(&text);
    let mut records = Records::new(&text, delimiter);
    let header = records.next().ok_or(ImportError::Empty)?;
    let layout = Layout::new(&header, profile)?;
    let body = &text[records.pos..];
    if body.contains('"') {
        return Ok(layout.rows(|record| records.fill(record), 0));
    }
    // Sized once from the line count: growing by doubling would briefly hold the old
    // and the new array together, half again the rows' memory at the peak.
    let mut out = Statement {
        rows: Vec::with_capacity(count_byte(body.as_bytes(), b'\n') as usize + 1),
        bad: Vec::new(),
    };
    let mut line = records.line;
    layout.read_lines(Lines::Text(body), delimiter, &mut line, &mut out);
    Ok(out)
}

/// Like [`read_statement`], but reads the file from `source` a block at a time, so a
/// large CSV statement is never held whole: only one block of it (two pieces of at most
/// `PIECE_BYTES`) sits beside the rows read so far. The rows, bad rows and line numbers
/// are those [`read_statement`] gives for the same bytes. A workbook, a file whose first
/// block is not UTF-8, and the rest of a file from its first quote on (a quoted field may
/// hold a line break) are read whole, as [`read_statement`] reads them. A file that is
/// valid UTF-8 with non-ASCII text in one block and not UTF-8 in a later one is read as
/// each block says (UTF-8, then Windows-1254), where [`read_statement`] would take
/// Windows-1254 for all of it.
pub fn read_statement_from(
    source: impl std::io::Read,
    profile: &Profile,
) -> Result<Statement, ImportError> {
    read_blocks(source, profile, BLOCK_BYTES)
}

/// [`read_statement_from`] with blocks of `block_bytes` (small in tests, so that many
/// block boundaries fall inside a small file).
fn read_blocks(
    mut source: impl std::io::Read,
    profile: &Profile,
    block_bytes: usize,
) -> Result<Statement, ImportError> {
    let step = block_bytes.min(64 << 10);
    let mut block: Vec<u8> = Vec::with_capacity(block_bytes + step);
    let mut at_end = fill_block(&mut source, &mut block, block_bytes)?;
    while block.len() < 3 && !at_end {
        at_end = fill_more(&mut source, &mut block, step)?;
    }
    if block.starts_with(b"\xEF\xBB\xBF") {
        block.drain(..3);
    }
    let mut head_end = header_end(&block);
    while head_end.is_none() && !at_end {
        at_end = fill_more(&mut source, &mut block, step)?;
        head_end = header_end(&block);
    }
    let head_end = head_end.unwrap_or(block.len());
    let whole = at_end
        || crate::xlsx::is_xlsx(&block)
        || block[..head_end].contains(&b'"')
        || simdutf8::basic::from_utf8(&block[..complete_lines(&block, at_end).unwrap_or(head_end)])
            .is_err();
    if whole {
        source.read_to_end(&mut block).map_err(read_error)?;
        return read_statement(&block, profile);
    }
    let head = decode(&block[..head_end]);
    let delimiter = detect_delimiter(&head);
    let mut records = Records::new(&head, delimiter);
    let header = records.next().ok_or(ImportError::Empty)?;
    let layout = Layout::new(&header, profile)?;
    let mut line = records.line;
    drop(header);
    drop(head);
    block.drain(..head_end);

    let mut out = Statement {
        rows: Vec::new(),
        bad: Vec::new(),
    };
    let mut utf8 = true;
    loop {
        // Whole lines only: a line longer than what is read so far is read on.
        let end = loop {
            if let Some(end) = complete_lines(&block, at_end) {
                break end;
            }
            at_end = fill_more(&mut source, &mut block, step)?;
        };
        if memchr::memchr(b'"', &block[..end]).is_some() {
            // Windows-1254 when this block is not UTF-8: then the rest read onto it is not
            // either, as the block is a prefix of it.
            source.read_to_end(&mut block).map_err(read_error)?;
            let text = match simdutf8::basic::from_utf8(&block) {
                Ok(text) if utf8 => Cow::Borrowed(text),
                _ => {
                    encoding_rs::WINDOWS_1254
                        .decode_without_bom_handling(&block)
                        .0
                }
            };
            let mut records = Records {
                text: &text,
                pos: 0,
                line,
                delimiter,
            };
            layout.read_into(&mut out, |record| records.fill(record));
            return Ok(out);
        }
        // UTF-8 checked a piece at a time as the pieces are read.
        let read =
            utf8 && layout.read_lines(Lines::Utf8(&block[..end]), delimiter, &mut line, &mut out);
        if !read {
            // Windows-1254 from here on: one byte a character, so a block cut at a line
            // break decodes the same as the whole file would.
            utf8 = false;
            let text = encoding_rs::WINDOWS_1254
                .decode_without_bom_handling(&block[..end])
                .0;
            layout.read_lines(Lines::Text(&text), delimiter, &mut line, &mut out);
        }
        block.drain(..end);
        if at_end && block.is_empty() {
            return Ok(out);
        }
        at_end = fill_block(&mut source, &mut block, block_bytes)?;
    }
}

/// What [`read_statement_from`] reads at a time: a pair of pieces.
const BLOCK_BYTES: usize = 2 * PIECE_BYTES;

/// Reads from `source` until `block` holds `block_bytes` or the source ends; `true` at
/// the end.
fn fill_block(
    source: &mut impl std::io::Read,
    block: &mut Vec<u8>,
    block_bytes: usize,
) -> Result<bool, ImportError> {
    while block.len() < block_bytes {
        if fill_more(source, block, block_bytes.min(64 << 10))? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Up to `step` more bytes appended to `block`, read straight into its spare room (a
/// file's reads fill it without zeroing it first); `true` when the source has ended.
fn fill_more(
    source: &mut impl std::io::Read,
    block: &mut Vec<u8>,
    step: usize,
) -> Result<bool, ImportError> {
    use std::io::Read as _;
    let start = block.len();
    match source.take(step as u64).read_to_end(block) {
        // Fewer than asked for only at the end: `read_to_end` reads on until it has them.
        Ok(n) => Ok(n < step),
        Err(e) => {
            block.truncate(start);
            Err(read_error(e))
        }
    }
}

/// How much of `block` is whole lines: up to its last line break, or all of it at the
/// end of the file; `None` when it holds no line break yet.
fn complete_lines(block: &[u8], at_end: bool) -> Option<usize> {
    if at_end {
        return Some(block.len());
    }
    block.iter().rposition(|b| *b == b'\n').map(|n| n + 1)
}

/// Where the header line ends (after its line break), blank lines before it skipped as
/// [`Records`] skips them; `None` while no line break follows it.
fn header_end(block: &[u8]) -> Option<usize> {
    let mut at = 0;
    loop {
        let rest = &block[at..];
        if rest.starts_with(b"\r\n") {
            at += 2;
        } else if rest.starts_with(b"\n") {
            at += 1;
        } else {
            break;
        }
    }
    block[at..]
        .iter()
        .position(|b| *b == b'\n')
        .map(|n| at + n + 1)
}

fn read_error(e: std::io::Error) -> ImportError {
    ImportError::Read(e.to_string())
}

/// The largest piece of a statement one thread reads at a time.
const PIECE_BYTES: usize = 4 << 20;

/// Where a piece of `bytes` that starts at `start` ends: after the first line break at
/// or after `start + at` (the end of `bytes` when there is none).
fn cut_at_line(bytes: &[u8], start: usize, at: usize) -> usize {
    let from = (start + at).min(bytes.len());
    memchr::memchr(b'\n', &bytes[from..]).map_or(bytes.len(), |n| from + n + 1)
}

/// Lines to read as rows: text already decoded, or bytes taken as UTF-8 a piece at a
/// time, each piece on the thread that reads it.
#[derive(Clone, Copy)]
enum Lines<'t> {
    Text(&'t str),
    Utf8(&'t [u8]),
}

impl<'t> Lines<'t> {
    fn bytes(self) -> &'t [u8] {
        match self {
            Lines::Text(text) => text.as_bytes(),
            Lines::Utf8(bytes) => bytes,
        }
    }

    /// A piece cut at line breaks, as text; `None` when bytes are not UTF-8. Text is
    /// always a piece: a line break is one byte, never inside a character, so a cut
    /// after one (or at the end) is always at a character's boundary.
    fn piece(self, range: std::ops::Range<usize>) -> Option<&'t str> {
        match self {
            Lines::Text(text) => Some(&text[range]),
            Lines::Utf8(bytes) => simdutf8::basic::from_utf8(&bytes[range]).ok(),
        }
    }
}

/// Below this many bytes of rows a statement is read on one thread. Kept tiny on
/// purpose: a thread costs some microseconds, next to nothing beside an import, and
/// every statement test then runs the same two-thread path as a large file does.
const PARALLEL_MIN_BYTES: usize = 2;

/// How many times `byte` occurs in `bytes`, as a line number step.
fn count_byte(bytes: &[u8], byte: u8) -> u32 {
    u32::try_from(memchr::memchr_iter(byte, bytes).count()).unwrap_or(u32::MAX)
}

/// What a header says: where each mapped field stands and how many fields a row has.
struct Layout<'p> {
    reader: RowReader<'p>,
    mapping: Vec<(Field, usize, &'p str)>,
    width: usize,
}

impl<'p> Layout<'p> {
    fn new(header: &Record<'_>, profile: &'p Profile) -> Result<Layout<'p>, ImportError> {
        let positions: HashMap<String, usize> = header
            .fields
            .iter()
            .enumerate()
            .map(|(i, h)| (fold(&h.text()), i))
            .collect();
        let mut mapping = Vec::with_capacity(profile.columns.len());
        for column in &profile.columns {
            let index = positions
                .get(&fold(&column.header))
                .ok_or_else(|| ImportError::MissingColumn(column.header.clone()))?;
            mapping.push((column.field, *index, column.header.as_str()));
        }
        if !profile.columns.iter().any(|c| c.field == Field::Amount) {
            return Err(ImportError::MissingColumn("amount".to_owned()));
        }
        Ok(Layout {
            reader: RowReader::new(profile),
            mapping,
            width: header.fields.len(),
        })
    }

    /// The rows of the records after the header, and the bad ones, in record order.
    fn rows<'a>(&self, next: impl FnMut(&mut Record<'a>) -> bool, capacity: usize) -> Statement {
        let mut out = Statement {
            rows: Vec::with_capacity(capacity),
            bad: Vec::new(),
        };
        self.read_into(&mut out, next);
        out
    }

    /// Reads `body` (whole lines without quotes, the first at `line`) on two threads, a
    /// pair of pieces at a time, each piece cut at a line break: without quotes every
    /// line break ends a record, so a piece is whole records, and a piece's line numbers
    /// start where the one before ended. The second piece of a pair is appended after the
    /// first, so the result is the same as one pass, and only one piece's rows are ever
    /// held apart (pieces of at most `PIECE_BYTES`, so a large file costs little more
    /// memory than one pass). `line` ends after the last line read. Bytes are checked as
    /// UTF-8 a piece at a time on the thread that reads the piece; `false`, with nothing
    /// read and `line` as it was, when a piece is not UTF-8.
    fn read_lines(
        &self,
        body: Lines<'_>,
        delimiter: u8,
        line: &mut u32,
        out: &mut Statement,
    ) -> bool {
        let bytes = body.bytes();
        if bytes.len() < PARALLEL_MIN_BYTES {
            let Some(text) = body.piece(0..bytes.len()) else {
                return false;
            };
            let mut records = Records {
                text,
                pos: 0,
                line: *line,
                delimiter,
            };
            self.read_into(out, |record| records.fill_plain(record));
            *line = records.line;
            return true;
        }
        let before = (out.rows.len(), out.bad.len(), *line);
        let piece = bytes.len().div_ceil(2).min(PIECE_BYTES);
        let mut at = 0;
        while at < bytes.len() {
            let first = at..cut_at_line(bytes, at, piece);
            let second = first.end..cut_at_line(bytes, first.end, piece);
            at = second.end;
            let first_line = *line;
            let second_line = first_line + count_byte(&bytes[first.clone()], b'\n');
            *line = second_line + count_byte(&bytes[second.clone()], b'\n');
            let read = |range: std::ops::Range<usize>, line: u32, out: &mut Statement| {
                let text = body.piece(range)?;
                let mut records = Records {
                    text,
                    pos: 0,
                    line,
                    delimiter,
                };
                self.read_into(out, |record| records.fill_plain(record));
                Some(())
            };
            let (head, tail) = std::thread::scope(|s| {
                let tail = s.spawn(|| {
                    let mut tail = Statement {
                        rows: Vec::new(),
                        bad: Vec::new(),
                    };
                    read(second, second_line, &mut tail).map(|()| tail)
                });
                let head = read(first, first_line, out);
                let tail = tail
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                (head, tail)
            });
            let (Some(()), Some(tail)) = (head, tail) else {
                out.rows.truncate(before.0);
                out.bad.truncate(before.1);
                *line = before.2;
                return false;
            };
            out.rows.extend(tail.rows);
            out.bad.extend(tail.bad);
        }
        true
    }

    /// Like [`Layout::rows`], appending to `out`.
    fn read_into<'a>(&self, out: &mut Statement, mut next: impl FnMut(&mut Record<'a>) -> bool) {
        let width = self.width;
        let Statement { rows, bad } = out;
        let mut record = Record {
            line: 0,
            fields: Vec::with_capacity(width),
        };
        while next(&mut record) {
            if record.fields.len() != width {
                bad.push(BadRow {
                    line: record.line,
                    reason: format!(
                        "{} fields where the header has {width}",
                        record.fields.len()
                    ),
                    problem: RowProblem::FieldCount {
                        found: record.fields.len(),
                        expected: width,
                    },
                });
                continue;
            }
            match self.reader.read(&record, &self.mapping) {
                Ok(row) => rows.push(row),
                Err((reason, problem)) => bad.push(BadRow {
                    line: record.line,
                    reason,
                    problem,
                }),
            }
        }
    }
}

/// A profile's few type or status texts, asked once per row: FxHash, not SipHash (the
/// keys are the profile's own, not an attacker's).
type Lookup<T> = HashMap<String, T, rustc_hash::FxBuildHasher>;

/// Text to value, by folded text, plus every text as the profile writes it (mapping to
/// what its folded form maps to), so the usual row finds its text without folding it.
fn lookup<T: Copy>(pairs: &[(String, T)]) -> Lookup<T> {
    let mut map: Lookup<T> = pairs.iter().map(|(t, v)| (fold(t), *v)).collect();
    for (text, _) in pairs {
        if let Some(value) = map.get(&fold(text)).copied() {
            map.entry(text.trim().to_owned()).or_insert(value);
        }
    }
    map
}

/// The profile's lookups, folded once.
struct RowReader<'p> {
    profile: &'p Profile,
    kinds: Lookup<RowKind>,
    statuses: Lookup<RowState>,
}

impl<'p> RowReader<'p> {
    fn new(profile: &'p Profile) -> RowReader<'p> {
        RowReader {
            profile,
            kinds: lookup(&profile.kinds),
            statuses: lookup(&profile.statuses),
        }
    }

    fn read(
        &self,
        record: &Record<'_>,
        mapping: &[(Field, usize, &str)],
    ) -> Result<ProviderRow, (String, RowProblem)> {
        let mut row = ProviderRow {
            provider_ref: None,
            sale_ref: None,
            auth_code: None,
            client_ref: None,
            kind: RowKind::Sale,
            status: RowState::Success,
            amount: Kurus::ZERO,
            authorized_amount: None,
            installments: None,
            masked_pan: None,
            time: None,
            value_date: None,
            commission: None,
            currency: None,
            line: NonZeroU32::new(record.line),
        };
        for (field, index, header) in mapping {
            let cell = &record.fields[*index];
            let text = cell.text();
            let raw = sanalpos_core::fields::trim(&text);
            let bad = |what: &str, expected: ExpectedValue| {
                (
                    format!("{header}: {what} ({raw:?})"),
                    RowProblem::Invalid {
                        column: (*header).to_owned(),
                        value: raw.to_owned(),
                        expected,
                    },
                )
            };
            let empty = || {
                (
                    format!("{header}: empty"),
                    RowProblem::Empty {
                        column: (*header).to_owned(),
                    },
                )
            };
            // Typed spreadsheet values skip the text formats.
            match (field, cell) {
                (Field::Amount, Cell::Number(n)) => {
                    row.amount = kurus_of(*n).map_err(|e| bad(&e, ExpectedValue::Amount))?;
                    continue;
                }
                (Field::AuthorizedAmount, Cell::Number(n)) => {
                    row.authorized_amount =
                        Some(kurus_of(*n).map_err(|e| bad(&e, ExpectedValue::Amount))?);
                    continue;
                }
                (Field::Commission, Cell::Number(n)) => {
                    row.commission =
                        Some(kurus_of(*n).map_err(|e| bad(&e, ExpectedValue::Amount))?);
                    continue;
                }
                (Field::Time, Cell::Time(t)) => {
                    row.time = Some(*t);
                    continue;
                }
                (Field::ValueDate, Cell::Time(t)) => {
                    row.value_date = Some(t.date());
                    continue;
                }
                _ => {}
            }
            if raw.is_empty() {
                match field {
                    Field::Amount | Field::Kind | Field::Status => return Err(empty()),
                    _ => continue,
                }
            }
            match field {
                Field::ProviderRef => {
                    row.provider_ref = Some(
                        ProviderRef::parse(raw)
                            .map_err(|e| bad(&e.to_string(), ExpectedValue::Reference))?,
                    )
                }
                Field::SaleRef => {
                    row.sale_ref =
                        Some(Box::new(ProviderRef::parse(raw).map_err(|e| {
                            bad(&e.to_string(), ExpectedValue::Reference)
                        })?))
                }
                Field::AuthCode => row.auth_code = AuthCode::parse_approval(raw),
                Field::ClientRef => row.client_ref = Some(raw.into()),
                Field::Kind => {
                    row.kind = *self
                        .kinds
                        .get(raw)
                        .or_else(|| self.kinds.get(&fold(raw)))
                        .ok_or_else(|| {
                            bad("unknown transaction type", ExpectedValue::TransactionType)
                        })?
                }
                Field::Status => {
                    row.status = *self
                        .statuses
                        .get(raw)
                        .or_else(|| self.statuses.get(&fold(raw)))
                        .ok_or_else(|| bad("unknown status", ExpectedValue::Status))?
                }
                Field::Amount => {
                    row.amount = self
                        .money(raw)
                        .map_err(|e| bad(&e, ExpectedValue::Amount))?
                }
                Field::AuthorizedAmount => {
                    row.authorized_amount = Some(
                        self.money(raw)
                            .map_err(|e| bad(&e, ExpectedValue::Amount))?,
                    )
                }
                Field::Commission => {
                    row.commission = Some(
                        self.money(raw)
                            .map_err(|e| bad(&e, ExpectedValue::Amount))?,
                    )
                }
                Field::Installments => {
                    row.installments = Some(raw.parse().map_err(|_| {
                        bad("not an installment count", ExpectedValue::Installments)
                    })?)
                }
                Field::MaskedPan => {
                    row.masked_pan =
                        Some(MaskedPan::parse(raw).ok_or_else(|| {
                            bad("not a masked card number", ExpectedValue::MaskedPan)
                        })?)
                }
                Field::Time => {
                    row.time = Some(
                        self.time(raw)
                            .ok_or_else(|| bad("not a date and time", ExpectedValue::DateTime))?,
                    )
                }
                Field::ValueDate => {
                    row.value_date = Some(
                        self.date(raw)
                            .ok_or_else(|| bad("not a date", ExpectedValue::Date))?,
                    )
                }
                Field::Currency => {
                    row.currency = Some(
                        Currency::from_alpha(raw)
                            .or_else(|| Currency::from_numeric(raw))
                            .ok_or_else(|| bad("unknown currency", ExpectedValue::Currency))?,
                    )
                }
            }
        }
        Ok(row)
    }

    fn money(&self, raw: &str) -> Result<Kurus, String> {
        match self.profile.numbers {
            NumberStyle::Turkish => Kurus::parse_tr(raw),
            NumberStyle::Dot => Kurus::parse(raw),
        }
        .map_err(|e| e.to_string())
    }

    fn time(&self, raw: &str) -> Option<NaiveDateTime> {
        self.profile.time_formats.iter().find_map(|format| {
            if format == TR_DATE_TIME {
                return fast_tr_date_time(raw);
            }
            if format == TR_DATE {
                return fast_tr_date(raw).map(|d| d.and_time(NaiveTime::MIN));
            }
            NaiveDateTime::parse_from_str(raw, format).ok().or_else(|| {
                NaiveDate::parse_from_str(raw, format)
                    .ok()
                    .map(|d| d.and_time(NaiveTime::MIN))
            })
        })
    }

    fn date(&self, raw: &str) -> Option<NaiveDate> {
        self.profile.date_formats.iter().find_map(|format| {
            if format == TR_DATE {
                return fast_tr_date(raw);
            }
            NaiveDate::parse_from_str(raw, format).ok()
        })
    }
}

fn digits(bytes: &[u8]) -> Option<u32> {
    bytes.iter().try_fold(0u32, |acc, b| {
        b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0'))
    })
}

/// `dd.MM.yyyy` without going through `chrono`'s format interpreter: a statement of a
/// million rows has two million dates.
fn fast_tr_date(raw: &str) -> Option<NaiveDate> {
    let b = raw.as_bytes();
    if b.len() != 10 || b[2] != b'.' || b[5] != b'.' {
        return None;
    }
    let year = i32::try_from(digits(&b[6..10])?).ok()?;
    NaiveDate::from_ymd_opt(year, digits(&b[3..5])?, digits(&b[0..2])?)
}

/// `dd.MM.yyyy HH:mm:ss`, fast.
fn fast_tr_date_time(raw: &str) -> Option<NaiveDateTime> {
    let b = raw.as_bytes();
    if b.len() != 19 || b[10] != b' ' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let date = fast_tr_date(&raw[..10])?;
    let time = NaiveTime::from_hms_opt(
        digits(&b[11..13])?,
        digits(&b[14..16])?,
        digits(&b[17..19])?,
    )?;
    Some(date.and_time(time))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const HEADER: &str = "İşlem Tarihi;Valör Tarihi;İşlem Tipi;Durum;Referans No;Sipariş No;Provizyon No;Kart No;Kart Sahibi;Taksit;Tutar;Provizyon Tutarı;Komisyon;Net Tutar;Para Birimi";

    /// Sale `i`: a good row, or now and then a row with a bad amount or a missing field.
    fn line(i: usize) -> String {
        let amount = match i % 13 {
            5 => "12,3,4".to_owned(),
            _ => format!("{},{:02}", 10 + i, i % 100),
        };
        let row = format!(
            "29.08.2025 14:23:57;01.09.2025;Satış;Başarılı;IKSIRPF{i};c-{i};{:06};454671******7894;Ayşe Yılmaz;1;{amount};{amount};0,00;{amount};TRY",
            100_000 + i
        );
        if i % 17 == 3 {
            row.rsplit_once(';').unwrap().0.to_owned()
        } else {
            row
        }
    }

    /// A statement with what a block boundary could break: a BOM, blank lines before
    /// the header and between rows, CRLF and LF, bad rows, no line break at the end.
    fn statement(rows: usize) -> String {
        let mut text = format!("\u{FEFF}\r\n\n{HEADER}\r\n");
        for i in 0..rows {
            text.push_str(&line(i));
            text.push_str(if i % 2 == 0 { "\r\n" } else { "\n" });
            if i % 29 == 0 {
                text.push_str("\r\n");
            }
        }
        text.push_str(&line(rows));
        text
    }

    /// A source that gives at most `most` bytes a read, then fails after `fail_at`.
    struct Trickle<'a> {
        bytes: &'a [u8],
        most: usize,
        fail_at: usize,
        given: usize,
    }

    impl std::io::Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.given >= self.fail_at {
                return Err(std::io::Error::other("the disk went away"));
            }
            let n = buf.len().min(self.most).min(self.bytes.len());
            buf[..n].copy_from_slice(&self.bytes[..n]);
            self.bytes = &self.bytes[n..];
            self.given += n;
            Ok(n)
        }
    }

    fn trickle(bytes: &[u8], most: usize) -> Trickle<'_> {
        Trickle {
            bytes,
            most,
            fail_at: usize::MAX,
            given: 0,
        }
    }

    #[test]
    fn reading_in_blocks_gives_what_reading_whole_gives() {
        let text = statement(300);
        let profile = Profile::simulator();
        let whole = read_statement(text.as_bytes(), &profile).unwrap();
        assert_eq!(whole.rows.len() + whole.bad.len(), 301);
        assert!(whole.bad.len() > 20, "the file has bad rows to report");
        for (block, most) in [
            (1, 1),
            (1, 64 << 10),
            (7, 3),
            (150, 1),
            (151, 64 << 10),
            (1000, 3),
            (4096, 64 << 10),
            (BLOCK_BYTES, 64 << 10),
        ] {
            let read = read_blocks(trickle(text.as_bytes(), most), &profile, block).unwrap();
            assert_eq!(read, whole, "blocks of {block} bytes, reads of {most}");
        }
    }

    #[test]
    fn a_quote_in_a_later_block_reads_the_rest_as_one_pass_does() {
        let mut text = statement(100);
        // A quoted field with a line break inside, well after the first blocks.
        text.push_str("\r\n");
        text.push_str(&line(101).replace("Ayşe Yılmaz", "\"Ayşe\r\nYılmaz; A.Ş.\""));
        text.push_str("\r\n");
        text.push_str(&line(102));
        let profile = Profile::simulator();
        let whole = read_statement(text.as_bytes(), &profile).unwrap();
        let last = whole.rows.last().unwrap();
        assert_eq!(last.provider_ref.as_ref().unwrap().as_str(), "IKSIRPF102");
        for block in [1, 200, 1000] {
            let read = read_blocks(trickle(text.as_bytes(), 5), &profile, block).unwrap();
            assert_eq!(read, whole, "blocks of {block} bytes");
        }
    }

    /// Bytes around the edges the eight-at-a-time search must tell apart.
    const SOME_BYTES: [u8; 9] = [0, 1, b',', b';', 0x7f, 0x80, 0x81, 0xbb, 0xff];

    proptest::proptest! {
        /// Every position of a byte, in order, as a byte-by-byte search finds them.
        #[test]
        fn each_position_finds_every_one(
            line in proptest::collection::vec(proptest::sample::select(SOME_BYTES.to_vec()), 0..80),
            byte in proptest::sample::select(SOME_BYTES.to_vec()),
        ) {
            let mut seen = Vec::new();
            each_position(&line, byte, |at| seen.push(at));
            let wanted: Vec<usize> = (0..line.len()).filter(|i| line[*i] == byte).collect();
            proptest::prop_assert_eq!(seen, wanted);
        }

        /// Text without quotes splits into the same records either way.
        #[test]
        fn plain_records_are_the_records(
            text in "[a;,ş \r\n]{0,60}",
            comma in proptest::bool::ANY,
        ) {
            let delimiter = if comma { b',' } else { b';' };
            let mut general = Records::new(&text, delimiter);
            let mut plain = Records::new(&text, delimiter);
            let (mut a, mut b) = (
                Record { line: 0, fields: Vec::new() },
                Record { line: 0, fields: Vec::new() },
            );
            loop {
                let (more_a, more_b) = (general.fill(&mut a), plain.fill_plain(&mut b));
                proptest::prop_assert_eq!(more_a, more_b);
                if !more_a {
                    break;
                }
                proptest::prop_assert_eq!(a.line, b.line);
                let texts = |r: &Record<'_>| -> Vec<String> {
                    r.fields.iter().map(|c| c.text().into_owned()).collect()
                };
                proptest::prop_assert_eq!(texts(&a), texts(&b));
            }
            proptest::prop_assert_eq!((general.pos, general.line), (plain.pos, plain.line));
        }
    }

    #[test]
    fn a_windows_1254_file_reads_as_one_pass_does() {
        let text = statement(80);
        let text = text.trim_start_matches('\u{FEFF}');
        let (bytes, _, _) = encoding_rs::WINDOWS_1254.encode(text);
        assert!(std::str::from_utf8(&bytes).is_err());
        let profile = Profile::simulator();
        let whole = read_statement(&bytes, &profile).unwrap();
        assert!(!whole.rows.is_empty());
        let read = read_blocks(trickle(&bytes, 11), &profile, 300).unwrap();
        assert_eq!(read, whole);
    }

    #[test]
    fn a_later_block_in_windows_1254_is_read_as_windows_1254() {
        // Excel appended rows to a UTF-8 file in Windows-1254: each part as it is.
        let mut text = statement(40).into_bytes();
        let refund = line(41).replace("Satış", "Kısmi İade");
        text.extend_from_slice(b"\r\n");
        text.extend_from_slice(&encoding_rs::WINDOWS_1254.encode(&refund).0);
        let read = read_blocks(trickle(&text, 64), &Profile::simulator(), 500).unwrap();
        let last = read.rows.last().unwrap();
        assert_eq!(last.kind, RowKind::PartialRefund);
        assert_eq!(last.provider_ref.as_ref().unwrap().as_str(), "IKSIRPF41");
        assert_eq!(read.rows.first().unwrap().kind, RowKind::Sale);
        // The block whose second piece is not UTF-8 is read again as Windows-1254: each
        // line once, at its own line number.
        let mut lines: Vec<u32> = read.rows.iter().map(|r| r.line.unwrap().get()).collect();
        lines.extend(read.bad.iter().map(|b| b.line));
        let read_lines = lines.len();
        lines.sort_unstable();
        lines.dedup();
        assert_eq!((read_lines, lines.len()), (42, 42), "{lines:?}");
    }

    #[test]
    fn a_source_that_fails_is_an_error_that_says_so() {
        let text = statement(100);
        let profile = Profile::simulator();
        for fail_at in [0, 10, 2_000, 9_000] {
            let source = Trickle {
                fail_at,
                ..trickle(text.as_bytes(), 100)
            };
            let err = read_blocks(source, &profile, 1000).unwrap_err();
            assert_eq!(err, ImportError::Read("the disk went away".to_owned()));
            assert_eq!(
                err.to_string(),
                "the file cannot be read: the disk went away"
            );
        }
    }
}
