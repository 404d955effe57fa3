//! `grantledger log verify | stats | export`.
//!
//! All three only read: they open the log in place when they can and otherwise
//! read a consistent private copy (another process holds the log, the data
//! directory is read-only, the disk is full); see `datadir`.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _, Result};
use clap::{Args, Subcommand, ValueEnum};
use grantledger_eventlog::{
    verify_export, EventLog, ExportExpectations, Hash, Head, Position, Problem, MAX_EXPORT_LINE,
};
use grantledger_projection::SiteState;

use crate::output::{bytes, count, head as show_head, safe, thousands};
use crate::summary::describe;
use crate::Globals;

/// `grantledger log ...`
#[derive(Debug, Subcommand)]
pub enum LogCommand {
    /// Walk the hash chain from position 1 to the head; name the first bad position
    #[command(after_help = "Examples:
  grantledger log verify
  grantledger log verify --expect-head 324:9f86d081884c7d65     (a head noted earlier; 16+ hex digits)
  grantledger log verify --export tail.jsonl --from 325 --expect-head 324:9f86d081884c7d65
      (offline, no data directory needed: an export made with `log export --from 325` continues
      the head noted earlier; without --from it must start at 1, without --expect-head a cut
      tail goes unnoticed)")]
    Verify(VerifyArgs),
    /// Events, streams, head, size on disk
    #[command(after_help = "Examples:
  grantledger log stats
  grantledger -v log stats          (also each stream's version)
  grantledger log stats --json")]
    Stats(StatsArgs),
    /// Write the log as JSON lines (one record per line), or as text with names
    #[command(after_help = "Examples:
  grantledger log export -o log.jsonl
  grantledger log export --from 325 -o tail.jsonl   (the records after a head noted at 324)
  grantledger log export --format text      (one line per record, with names)")]
    Export(ExportArgs),
}

/// `grantledger log verify`
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Verify a JSON-lines export instead of the log (offline: no data directory
    /// needed); `-` reads standard input
    #[arg(long, value_name = "FILE")]
    export: Option<PathBuf>,
    /// Also check that the log still holds this head, noted earlier from a `verify`
    /// (e.g. by an auditor): `POSITION:HASH`, the hash in full or its first 16 or
    /// more hex digits
    #[arg(long, value_name = "POS:HASH", value_parser = parse_expected_head)]
    expect_head: Option<ExpectedHead>,
    /// With --export: the position the export starts at (an export made with
    /// `log export --from POS`); without it the export must start at position 1.
    /// With --expect-head at POS-1, the export's first record must link to that head
    #[arg(long, value_name = "POS", requires = "export", value_parser = clap::value_parser!(u64).range(1..))]
    from: Option<u64>,
}

/// A head noted earlier: a position and all or the start of its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedHead {
    position: Position,
    /// Lowercase hex, 16 to 64 digits.
    prefix: String,
}

impl ExpectedHead {
    /// The full head, when the whole hash was given.
    fn full(&self) -> Option<Head> {
        Hash::from_hex(&self.prefix).map(|hash| Head {
            position: self.position,
            hash,
        })
    }

    /// The full head if `found` (the hash at the position) matches.
    fn resolve(&self, found: Option<Hash>) -> Option<Head> {
        found
            .filter(|h| h.to_hex().starts_with(&self.prefix))
            .map(|hash| Head {
                position: self.position,
                hash,
            })
    }

    /// What verification says when the head is not there.
    fn missing(&self, found: Option<Hash>, what: &str) -> String {
        match found {
            None => format!(
                "at position {}: the head noted earlier ({}:{}) is not in {what}: it ends before that position (cut short or replaced)",
                self.position, self.position, self.prefix
            ),
            Some(h) => format!(
                "at position {}: the head noted earlier ({}:{}) is not in {what}: the record there has hash {h} (rewritten or replaced)",
                self.position, self.position, self.prefix
            ),
        }
    }
}

fn parse_expected_head(raw: &str) -> std::result::Result<ExpectedHead, String> {
    let form = "expected POSITION:HASH as printed by `grantledger log verify`, e.g. 324:9f86d081884c7d65 (the hash in full, or its first 16 or more hex digits)";
    let (pos, hash) = raw
        .trim()
        .split_once([':', ' '])
        .ok_or_else(|| form.to_owned())?;
    let position: Position = pos
        .trim()
        .parse()
        .map_err(|_| format!("{:?} is not a position: {form}", safe(pos)))?;
    let hash = hash.trim().to_ascii_lowercase();
    if hash.len() < 16 || hash.len() > 64 || !hash.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!(
            "the hash must be 16 to 64 hex digits, found {} characters: {form}",
            hash.chars().count()
        ));
    }
    Ok(ExpectedHead {
        position,
        prefix: hash,
    })
}

/// `grantledger log stats`
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Print one JSON object instead of text
    #[arg(long)]
    json: bool,
}

/// `grantledger log export`
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// First position to export (1 or more, at most the log's head)
    #[arg(long, value_name = "POS", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    from: u64,
    /// Output format
    #[arg(long, value_enum, default_value_t = ExportFormat::Jsonl)]
    format: ExportFormat,
    /// Write to FILE (replaced only once the export is complete) instead of stdout
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// One JSON object per line (schemas/export-record.schema.json)
    Jsonl,
    /// One line per record for people: position, time, stream and what happened,
    /// with the names the log knows (not verifiable; use jsonl for that)
    Text,
}

/// Runs a `log` subcommand.
pub fn run(command: LogCommand, globals: &Globals) -> Result<ExitCode> {
    match command {
        LogCommand::Verify(VerifyArgs {
            export: Some(file),
            expect_head,
            from,
        }) => verify_export_file(&file, from.unwrap_or(1), expect_head),
        LogCommand::Verify(VerifyArgs {
            export: None,
            expect_head,
            ..
        }) => verify_log(globals, expect_head),
        LogCommand::Stats(args) => stats(args, globals),
        LogCommand::Export(args) => export(args, globals),
    }
}

fn verify_log(globals: &Globals, expected: Option<ExpectedHead>) -> Result<ExitCode> {
    let log = globals.data_dir()?.open_for_reading(globals.verbose)?;
    let mut out = io::stdout().lock();
    let expected = match expected {
        None => None,
        Some(e) => {
            let found = log.get(e.position)?.map(|r| r.hash);
            match e.resolve(found) {
                Some(head) => Some(head),
                None => {
                    writeln!(
                        out,
                        "log verification FAILED {}",
                        e.missing(found, "the log")
                    )?;
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
    };
    let report = match expected {
        Some(head) => log.verify_against(head),
        None => log.verify(),
    }
    .context("cannot verify the log")?;
    match &report.problem {
        None => {
            writeln!(
                out,
                "ok: {} in {}, head {}",
                count(report.records, "record"),
                count(report.streams, "stream"),
                show_head(&report.stored_head)
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Some(problem) => {
            writeln!(out, "log verification FAILED {}", describe_problem(problem))?;
            if globals.verbose > 0 {
                writeln!(
                    out,
                    "{} verified before it; the stored head is {}",
                    count(report.records, "record"),
                    show_head(&report.stored_head)
                )?;
            }
            Ok(ExitCode::FAILURE)
        }
    }
}

/// The hash an export claims for `position`, scanning the file: the hash of its
/// line at that position, or the `prev_hash` of its line at the next position (a
/// tail that continues from there).
fn hash_in_export(file: &Path, position: Position) -> Result<Option<Hash>> {
    let f =
        File::open(file).with_context(|| format!("cannot open export file {}", file.display()))?;
    let mut input = BufReader::new(f);
    let mut raw = Vec::new();
    for line_no in 1u64.. {
        raw.clear();
        // Bounded as the verification is: a line with no end is not held in memory.
        let read = (&mut input)
            .take(MAX_EXPORT_LINE + 1)
            .read_until(b'\n', &mut raw)
            .with_context(|| format!("cannot read export file {}", file.display()))?;
        if read == 0 {
            break;
        }
        if raw.len() as u64 > MAX_EXPORT_LINE && raw.last() != Some(&b'\n') {
            bail!(
                "export file {}: line {line_no} is longer than {} MiB, more than any record: this is not an export",
                file.display(),
                MAX_EXPORT_LINE >> 20
            );
        }
        // Lines that do not parse are left to the verification, which names them.
        let Ok(value) = serde_json::from_slice::<serde_json::Value>(&raw) else {
            continue;
        };
        let at = value["position"].as_u64();
        if at == Some(position) {
            return Ok(value["hash"].as_str().and_then(Hash::from_hex));
        }
        if at == position.checked_add(1) {
            return Ok(value["prev_hash"].as_str().and_then(Hash::from_hex));
        }
    }
    Ok(None)
}

/// The first problem of an export file verified with no head noted earlier.
fn problem_in(file: &Path, from: Position) -> Result<Option<Problem>> {
    let f =
        File::open(file).with_context(|| format!("cannot open export file {}", file.display()))?;
    let outcome = verify_export(
        &mut BufReader::new(f),
        ExportExpectations { from, head: None },
    )
    .with_context(|| format!("cannot read export file {}", file.display()))?;
    Ok(outcome.err())
}

/// A file name as a shell word for a command to copy: quoted unless plain.
fn shell_word(name: &str) -> String {
    let plain = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./,:+=@%".contains(c));
    if plain {
        name.to_owned()
    } else {
        format!("'{}'", safe(name).replace('\'', r"'\''"))
    }
}

fn verify_export_file(
    file: &Path,
    from: Position,
    expected: Option<ExpectedHead>,
) -> Result<ExitCode> {
    let stdin = file == Path::new("-");
    let name = if stdin {
        "standard input".to_owned()
    } else {
        file.display().to_string()
    };
    let head = match &expected {
        None => None,
        Some(e) => match e.full() {
            Some(full) => Some(full),
            None if stdin => bail!(crate::errors::UsageError::new(
                "with --export -, give --expect-head with the full 64-digit hash (a prefix needs the export read twice)"
            )),
            None => {
                let found = hash_in_export(file, e.position)?;
                match e.resolve(found) {
                    Some(h) => Some(h),
                    None => {
                        // A file that fails verification on its own says why
                        // (an unreadable line, a broken chain) rather than "no head".
                        let why = match problem_in(file, from)? {
                            Some(problem) => describe_problem(&problem),
                            None => e.missing(found, "the export"),
                        };
                        println!("export verification FAILED {why}");
                        return Ok(ExitCode::FAILURE);
                    }
                }
            }
        },
    };
    let expect = ExportExpectations { from, head };
    let outcome = if stdin {
        verify_export(&mut io::stdin().lock(), expect)
            .context("cannot read the export from standard input")?
    } else {
        let f = File::open(file)
            .with_context(|| format!("cannot open export file {}", file.display()))?;
        let meta = f
            .metadata()
            .with_context(|| format!("cannot read export file {}", file.display()))?;
        if meta.is_dir() {
            bail!("export file {} is a directory: name a file", file.display());
        }
        let mut reader: Box<dyn BufRead> = Box::new(BufReader::new(f));
        verify_export(&mut reader, expect)
            .with_context(|| format!("cannot read export file {}", file.display()))?
    };
    let mut out = io::stdout().lock();
    match outcome {
        Ok(summary) if summary.records == 0 => {
            writeln!(
                out,
                "export verification FAILED: {} holds no records, so nothing in it can be checked (an export from past the log's head is empty; otherwise, was it written completely?)",
                safe(&name)
            )?;
            Ok(ExitCode::FAILURE)
        }
        Ok(summary) => {
            write!(
                out,
                "ok: export chain intact, positions {}..{} ({}), head {}",
                summary.first,
                summary.head.position,
                count(summary.records, "record"),
                show_head(&summary.head)
            )?;
            match head {
                Some(h) if h.position + 1 == summary.first => writeln!(
                    out,
                    "; it continues from the head noted earlier, {}",
                    show_head(&h)
                )?,
                Some(h) => writeln!(out, "; it holds the head noted earlier, {}", show_head(&h))?,
                None => {
                    let shown = if stdin {
                        "-".to_owned()
                    } else {
                        shell_word(&name)
                    };
                    let head = show_head(&summary.head);
                    writeln!(
                        out,
                        "; a cut tail (records removed from the end) is only detectable against a head noted earlier: note this head now ({head}; where the log is kept, `grantledger log verify` prints the log's own), then check with `grantledger log verify --export {shown}{} --expect-head {head}` that an export still holds it, or with `grantledger log verify --export TAIL.jsonl --from {} --expect-head {head}` that a later tail export continues from it",
                        if summary.first > 1 {
                            format!(" --from {}", summary.first)
                        } else {
                            String::new()
                        },
                        summary.head.position + 1,
                    )?
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(problem) => {
            writeln!(
                out,
                "export verification FAILED {}",
                describe_problem(&problem)
            )?;
            Ok(ExitCode::FAILURE)
        }
    }
}

/// `at position N: what`, or for a problem before any position is known (an
/// export's unreadable first line) `at its first record: what`.
fn describe_problem(problem: &Problem) -> String {
    if problem.position == 0 {
        format!("at its first record: {}", problem.kind)
    } else {
        format!("at position {}: {}", problem.position, problem.kind)
    }
}

/// Below this many events the size on disk is mostly sled's preallocated
/// segments, and bytes per event says nothing.
const PER_EVENT_FROM: u64 = 10_000;

fn stats(args: StatsArgs, globals: &Globals) -> Result<ExitCode> {
    let dir = globals.data_dir()?;
    let log = dir.open_for_reading(globals.verbose)?;
    let head = log.head();
    let mut streams = log.streams().context("cannot list the log's streams")?;
    streams.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
    let size = log
        .size_on_disk()
        .context("cannot measure the log's size")?;
    let events = head.position;
    let per_event = (events > 0).then(|| size as f64 / events as f64);
    let mut out = io::stdout().lock();
    if args.json {
        let value = serde_json::json!({
            "data_dir": dir.root().display().to_string(),
            "events": events,
            "streams": streams.len(),
            "stream_versions": streams
                .iter()
                .map(|(s, v)| serde_json::json!({"stream": s.as_str(), "version": v}))
                .collect::<Vec<_>>(),
            "head": {"position": head.position, "hash": head.hash.to_hex()},
            "size_on_disk_bytes": size,
            "bytes_per_event": per_event,
        });
        writeln!(out, "{value:#}")?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        out,
        "data dir:      {}",
        safe(&dir.root().display().to_string())
    )?;
    writeln!(out, "events:        {}", thousands(events))?;
    writeln!(out, "streams:       {}", thousands(streams.len() as u64))?;
    if globals.verbose > 0 {
        for (stream, version) in &streams {
            writeln!(
                out,
                "  {}  version {}",
                safe(stream.as_str()),
                thousands(*version)
            )?;
        }
    }
    writeln!(out, "head:          {}", show_head(&head))?;
    writeln!(
        out,
        "size on disk:  {} ({} bytes)",
        bytes(size),
        thousands(size)
    )?;
    match per_event {
        Some(b) if events >= PER_EVENT_FROM => writeln!(out, "bytes/event:   {b:.1}")?,
        Some(_) => writeln!(
            out,
            "bytes/event:   not shown below {} events (the storage engine allocates space in 8 MiB segments, so a small log looks large)",
            thousands(PER_EVENT_FROM)
        )?,
        None => writeln!(out, "bytes/event:   n/a (no events)")?,
    }
    Ok(ExitCode::SUCCESS)
}

fn export(args: ExportArgs, globals: &Globals) -> Result<ExitCode> {
    let data_dir = globals.data_dir()?;
    // Check the target before reading anything.
    let target = match args.output.as_deref() {
        None => None,
        Some(p) if p == Path::new("-") => None,
        Some(path) => Some(check_output(path)?),
    };
    let log = data_dir.open_for_reading(globals.verbose)?;
    let head = log.head().position;
    // `--from head+1` is an incremental export with nothing new yet (empty);
    // anything further would skip positions the log has not reached.
    if args.from > head.saturating_add(1) {
        anyhow::bail!(
            "--from {} is past the log's head ({}): nothing to export; pick a position from 1 to {} (or {}, for the records still to come)",
            args.from,
            show_head(&log.head()),
            head,
            head + 1
        );
    }
    let write = |out: &mut dyn Write| -> Result<u64> {
        match args.format {
            ExportFormat::Jsonl => Ok(log.export_jsonl(args.from, out).context("export failed")?),
            ExportFormat::Text => export_text(&log, args.from, out),
        }
    };
    match target {
        None => {
            let mut out = BufWriter::new(io::stdout().lock());
            let n = write(&mut out)?;
            out.flush()
                .context("export failed: cannot write to stdout")?;
            tracing::info!(records = n, from = args.from, "exported");
        }
        Some(target) => {
            let n = write_atomically(&target, write)?;
            eprintln!(
                "exported {} to {}",
                count(n, "record"),
                safe(&target.display().to_string())
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One line per record with the names the log knows (the state of each site
/// at the head: a name is the latest one, an id whose owner is gone stays an id).
fn export_text(log: &EventLog, from: Position, out: &mut dyn Write) -> Result<u64> {
    let mut states: BTreeMap<String, SiteState> = BTreeMap::new();
    let mut n = 0;
    for record in log.read_from(from) {
        let record = record.context("export failed")?;
        let stream = record.stream.as_str();
        let line = match stream.strip_prefix("jira:") {
            Some(site) => {
                if !states.contains_key(site) {
                    let state = SiteState::load(log, site).context("export failed")?;
                    states.insert(site.to_owned(), state);
                }
                describe(&states[site], &record.event)
            }
            None => record.event.event_type().to_owned(),
        };
        let when = chrono::DateTime::from_timestamp_micros(record.recorded_at.as_micros())
            .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_default();
        writeln!(
            out,
            "#{:<7} {when}  {}  {}",
            record.position,
            safe(stream),
            safe(&line)
        )
        .context("export failed")?;
        n += 1;
    }
    Ok(n)
}

/// Refuses an output that is not a regular file (a directory, a device, a
/// symbolic link, a pipe), before any work is done.
fn check_output(path: &Path) -> Result<PathBuf> {
    let shown = safe(&path.display().to_string());
    if path.file_name().is_none() {
        bail!("--output {shown} names no file");
    }
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => bail!(
            "--output {shown} is a symbolic link: name the file itself (the export replaces its target by renaming, and does not follow links)"
        ),
        Ok(meta) if meta.is_dir() => bail!("--output {shown} is a directory; name a file"),
        Ok(meta) if !meta.is_file() => bail!(
            "--output {shown} is not a regular file (a device, a pipe or a socket): name a regular file, or omit --output to write to stdout"
        ),
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot inspect --output {shown}")),
    }
    Ok(path.to_path_buf())
}

/// Writes through a temporary file created exclusively (a fresh random name,
/// mode 0600, no symbolic link followed) in the target's directory, then renames
/// it over the target, so the target never holds a partial export.
fn write_atomically(
    target: &Path,
    write: impl FnOnce(&mut dyn Write) -> Result<u64>,
) -> Result<u64> {
    let shown = safe(&target.display().to_string());
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let temp = tempfile::Builder::new()
        .prefix(".grantledger-export-")
        .suffix(".partial")
        .tempfile_in(&dir)
        .with_context(|| format!("cannot create a temporary file beside {shown}"))?;
    let mut out = BufWriter::new(temp);
    let n = write(&mut out)?;
    let temp = out
        .into_inner()
        .map_err(|e| e.into_error())
        .with_context(|| format!("cannot write the export beside {shown}"))?;
    temp.as_file()
        .sync_all()
        .with_context(|| format!("cannot write the export beside {shown}"))?;
    temp.persist(target)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot move the export into place at {shown}"))?;
    Ok(n)
}
