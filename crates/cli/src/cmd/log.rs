//! `grantledger log verify | stats | export`.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::{Args, Subcommand, ValueEnum};
use grantledger_eventlog::{verify_export, EventLog, ExportExpectations, Head, Problem};

use crate::output::{bytes, count, thousands};
use crate::Globals;

/// `grantledger log ...`
#[derive(Debug, Subcommand)]
pub enum LogCommand {
    /// Walk the hash chain from position 1 to the head; name the first bad position
    Verify(VerifyArgs),
    /// Events, streams, head, size on disk
    Stats(StatsArgs),
    /// Write the log as JSON lines (one record per line)
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
    /// (e.g. by an auditor): `POSITION:SHA256`
    #[arg(long, value_name = "POS:HASH", value_parser = parse_expected_head)]
    expect_head: Option<Head>,
    /// With --export: the position the export starts at (an export made with
    /// `log export --from POS`); without it the export must start at position 1
    #[arg(long, value_name = "POS", requires = "export")]
    from: Option<u64>,
}

fn parse_expected_head(raw: &str) -> std::result::Result<Head, String> {
    grantledger_eventlog::parse_head(&raw.replacen(':', " ", 1))
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
    /// First position to export
    #[arg(long, value_name = "POS", default_value_t = 1)]
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
}

/// Runs a `log` subcommand.
pub fn run(command: LogCommand, globals: &Globals) -> Result<ExitCode> {
    match command {
        LogCommand::Verify(VerifyArgs {
            export: Some(file),
            expect_head,
            from,
        }) => verify_export_file(
            &file,
            ExportExpectations {
                from: from.unwrap_or(1),
                head: expect_head,
            },
        ),
        LogCommand::Verify(VerifyArgs {
            export: None,
            expect_head,
            ..
        }) => verify_log(globals, expect_head),
        LogCommand::Stats(args) => stats(args, globals),
        LogCommand::Export(args) => export(args, globals),
    }
}

fn open(globals: &Globals) -> Result<EventLog> {
    globals.data_dir()?.open_existing_log()
}

fn verify_log(globals: &Globals, expected: Option<Head>) -> Result<ExitCode> {
    let log = open(globals)?;
    let report = match expected {
        Some(head) => log.verify_against(head),
        None => log.verify(),
    }
    .context("cannot verify the log")?;
    let mut out = io::stdout().lock();
    match &report.problem {
        None => {
            writeln!(
                out,
                "ok: {} in {}, head {} (sha256 {})",
                count(report.records, "record"),
                count(report.streams, "stream"),
                report.stored_head.position,
                report.stored_head.hash
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Some(problem) => {
            writeln!(out, "log verification FAILED {}", describe(problem))?;
            if globals.verbose > 0 {
                writeln!(
                    out,
                    "{} verified before it; the stored head is position {} (sha256 {})",
                    count(report.records, "record"),
                    report.stored_head.position,
                    report.stored_head.hash
                )?;
            }
            Ok(ExitCode::FAILURE)
        }
    }
}

fn verify_export_file(file: &Path, expect: ExportExpectations) -> Result<ExitCode> {
    let (name, outcome) = if file == Path::new("-") {
        let outcome = verify_export(&mut io::stdin().lock(), expect)
            .context("cannot read the export from standard input")?;
        ("standard input".to_owned(), outcome)
    } else {
        let f = File::open(file)
            .with_context(|| format!("cannot open export file {}", file.display()))?;
        let mut reader: Box<dyn BufRead> = Box::new(BufReader::new(f));
        let outcome = verify_export(&mut reader, expect)
            .with_context(|| format!("cannot read export file {}", file.display()))?;
        (file.display().to_string(), outcome)
    };
    let mut out = io::stdout().lock();
    match outcome {
        Ok(summary) if summary.records == 0 => {
            writeln!(out, "ok: {name} holds no records")?;
            Ok(ExitCode::SUCCESS)
        }
        Ok(summary) => {
            writeln!(
                out,
                "ok: export chain intact, positions {}..{} ({}), head {} (sha256 {})",
                summary.first,
                summary.head.position,
                count(summary.records, "record"),
                summary.head.position,
                summary.head.hash
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Err(problem) => {
            writeln!(out, "export verification FAILED {}", describe(&problem))?;
            Ok(ExitCode::FAILURE)
        }
    }
}

/// `at position N: what`, or for a problem before any position is known (an
/// export's unreadable first line) `at its first record: what`.
fn describe(problem: &Problem) -> String {
    if problem.position == 0 {
        format!("at its first record: {}", problem.kind)
    } else {
        format!("at position {}: {}", problem.position, problem.kind)
    }
}

fn stats(args: StatsArgs, globals: &Globals) -> Result<ExitCode> {
    let dir = globals.data_dir()?;
    let log = dir.open_existing_log()?;
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
    writeln!(out, "data dir:      {}", dir.root().display())?;
    writeln!(out, "events:        {}", thousands(events))?;
    writeln!(out, "streams:       {}", thousands(streams.len() as u64))?;
    if globals.verbose > 0 {
        for (stream, version) in &streams {
            writeln!(out, "  {stream}  version {}", thousands(*version))?;
        }
    }
    writeln!(
        out,
        "head:          position {} (sha256 {})",
        head.position, head.hash
    )?;
    writeln!(
        out,
        "size on disk:  {} ({} bytes)",
        bytes(size),
        thousands(size)
    )?;
    match per_event {
        Some(b) => writeln!(out, "bytes/event:   {b:.1}")?,
        None => writeln!(out, "bytes/event:   n/a (no events)")?,
    }
    Ok(ExitCode::SUCCESS)
}

fn export(args: ExportArgs, globals: &Globals) -> Result<ExitCode> {
    let ExportFormat::Jsonl = args.format;
    let log = open(globals)?;
    match args.output.as_deref() {
        None => export_to_stdout(&log, args.from),
        Some(p) if p == Path::new("-") => export_to_stdout(&log, args.from),
        Some(path) => export_to_file(&log, args.from, path),
    }
}

fn export_to_stdout(log: &EventLog, from: u64) -> Result<ExitCode> {
    let mut out = BufWriter::new(io::stdout().lock());
    let n = log.export_jsonl(from, &mut out).context("export failed")?;
    out.flush()
        .context("export failed: cannot write to stdout")?;
    tracing::info!(records = n, from, "exported");
    Ok(ExitCode::SUCCESS)
}

/// Writes next to `path` first and renames when complete, so `path` never holds
/// a partial export.
fn export_to_file(log: &EventLog, from: u64, path: &Path) -> Result<ExitCode> {
    if path.is_dir() {
        anyhow::bail!("--output {} is a directory; name a file", path.display());
    }
    let file_name = path
        .file_name()
        .with_context(|| format!("--output {} names no file", path.display()))?;
    let mut partial_name = std::ffi::OsString::from(".");
    partial_name.push(file_name);
    partial_name.push(".partial");
    let partial = path.with_file_name(partial_name);
    let write = || -> Result<u64> {
        let file = File::create(&partial)
            .with_context(|| format!("cannot create {}", partial.display()))?;
        let mut out = BufWriter::new(file);
        let n = log.export_jsonl(from, &mut out).context("export failed")?;
        let file = out
            .into_inner()
            .map_err(|e| e.into_error())
            .with_context(|| format!("cannot write {}", partial.display()))?;
        file.sync_all()
            .with_context(|| format!("cannot write {}", partial.display()))?;
        std::fs::rename(&partial, path)
            .with_context(|| format!("cannot move the export into place at {}", path.display()))?;
        Ok(n)
    };
    match write() {
        Ok(n) => {
            eprintln!("exported {} to {}", count(n, "record"), path.display());
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err(e)
        }
    }
}
