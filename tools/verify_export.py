#!/usr/bin/env python3
"""Reference verifier of a grantledger export (`grantledger log export`, JSON lines).

Written from docs/log-format.md alone, standard library only: it re-derives every
record's canonical bytes from the JSON fields, recomputes its SHA-256 and follows
the hash chain. The struct and enum layouts are read from the document's
generated layout section (so the document is what is tested).

    python3 tools/verify_export.py export.jsonl
    python3 tools/verify_export.py tail.jsonl --from 325 --expect-head 324:<64 hex>
    grantledger log export --from 325 | python3 tools/verify_export.py - --from 325 --expect-head 324:<64 hex>
"""
import argparse, datetime, hashlib, json, re, struct, sys
from pathlib import Path

INTS = {"u8": "<B", "u16": "<H", "u32": "<I", "u64": "<Q", "i64": "<q"}
FIELDS = {"position", "recorded_at", "recorded_at_micros", "stream", "stream_version", "event_id",
          "causation", "event_type", "schema_version", "event", "prev_hash", "hash"}
ENVELOPE = [("event_type", "string"), ("schema_version", "u16"), ("position", "u64"),
            ("recorded_at_micros", "i64"), ("stream", "string"), ("stream_version", "u64"),
            ("event_id", "option<string>"), ("causation", "option<Causation>")]


class Bad(Exception):
    pass


def load_layout(doc):
    text = Path(doc).read_text(encoding="utf-8")
    section = re.search(r"<!-- BEGIN GENERATED LAYOUT -->(.*?)<!-- END GENERATED LAYOUT -->", text, re.S)
    events, types = {}, {}
    for block in section.group(1).split("#### ")[1:]:
        heading, *lines = block.splitlines()
        rows = [[c.strip() for c in l.strip().strip("|").split("|")] for l in lines if l.startswith("| ")][1:]
        kind, _, name = heading.partition(" ")
        if heading == "event types":
            events = {r[0]: (int(r[1]), r[3]) for r in rows}
        elif kind in ("struct", "enum"):
            types[name] = (kind, [(r[1], r[2]) for r in rows])
    return events, types


def fields_of(payload):  # "{ a: T, b: U }" -> [(a, T), (b, U)]
    return [tuple(p.split(": ", 1)) for p in payload.strip("{} ").split(", ")]


def encode(types, ty, v, where):
    if ty.startswith("option<"):
        return b"\0" if v is None else b"\1" + encode(types, ty[7:-1], v, where)
    if ty.startswith("vec<"):
        if not isinstance(v, list):
            raise Bad(f"{where}: expected a list")
        return struct.pack("<Q", len(v)) + b"".join(encode(types, ty[4:-1], x, where) for x in v)
    if ty == "string":
        if not isinstance(v, str):
            raise Bad(f"{where}: expected a string")
        b = v.encode("utf-8")
        return struct.pack("<Q", len(b)) + b
    if ty == "bool":
        if not isinstance(v, bool):
            raise Bad(f"{where}: expected true or false")
        return bytes([v])
    if ty in INTS:
        if not isinstance(v, int) or isinstance(v, bool):
            raise Bad(f"{where}: expected an integer")
        try:
            return struct.pack(INTS[ty], v)
        except struct.error:
            raise Bad(f"{where}: {v} does not fit a {ty}")
    kind, rows = types.get(ty, (None, None))
    if kind == "struct":
        return encode_fields(types, rows, v, where)
    if kind == "enum":
        if isinstance(v, str):
            tag, payload = v, None
        elif isinstance(v, dict) and len(v) == 1:
            (tag, payload), = v.items()
        else:
            raise Bad(f"{where}: not a {ty}")
        names = [n for n, _ in rows]
        if tag not in names:
            raise Bad(f"{where}: {tag!r} is not a variant of {ty}")
        index, shape = names.index(tag), rows[names.index(tag)][1]
        out = struct.pack("<I", index)
        if shape == "none":
            if not isinstance(v, str):
                raise Bad(f"{where}: {ty}::{tag} has no payload")
            return out
        if isinstance(v, str):
            raise Bad(f"{where}: {ty}::{tag} needs a payload")
        if shape.startswith("{"):
            return out + encode_fields(types, fields_of(shape), payload, f"{where}.{tag}")
        return out + encode(types, shape, payload, f"{where}.{tag}")
    raise Bad(f"{where}: the document does not describe the type {ty}")


def encode_fields(types, rows, v, where):
    if not isinstance(v, dict):
        raise Bad(f"{where}: expected an object")
    unknown = set(v) - {n for n, _ in rows}
    if unknown:
        raise Bad(f"{where}: unknown fields {sorted(unknown)}")
    return b"".join(encode(types, t, v.get(n), f"{where}.{n}") for n, t in rows)


def rfc3339(micros):
    t = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc) + datetime.timedelta(microseconds=micros)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


MAX_LINE = 16 << 20  # bytes; as the grantledger verifier: far above any record


def bounded_lines(f):
    """The lines of a binary file, refusing one longer than MAX_LINE unread."""
    number = 0
    while True:
        raw = f.readline(MAX_LINE + 1)
        if not raw:
            return
        number += 1
        if len(raw) > MAX_LINE and not raw.endswith(b"\n"):
            raise Bad(f"line {number} is longer than {MAX_LINE >> 20} MiB, more than any record: this is not an export")
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError:
            raise Bad(f"line {number} is not UTF-8 text: this is not an export") from None


def check(lines, events, types, start, head):
    link = "0" * 64 if start == 1 else None
    if head:
        if head[0] + 1 < start:
            raise Bad(f"position {start}: the export starts after {head[0] + 1}, it cannot show the head noted at {head[0]}")
        if head[0] + 1 == start:
            link = head[1]
    last, versions, seen, n = None, {}, head is None or head[0] + 1 == start, 0
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        pos = start if last is None else last[0] + 1
        r = json.loads(line)
        if not isinstance(r, dict) or set(r) != FIELDS:
            raise Bad(f"position {pos}: line {number} does not have exactly the fields of an export record")
        if r["position"] != pos:
            raise Bad(f"position {pos}: the export holds position {r['position']} there")
        if r["prev_hash"].lower() != (last[1] if last else link or r["prev_hash"].lower()):
            raise Bad(f"position {pos}: the chain is broken: it links to {r['prev_hash']}")
        (tag, payload), = r["event"].items()
        if tag not in events:
            raise Bad(f"position {pos}: event type {tag} is not in docs/log-format.md (a newer format?)")
        if tag != r["event_type"] or events[tag][0] != r["schema_version"]:
            raise Bad(f"position {pos}: event_type/schema_version do not match the event ({tag} version {events[tag][0]})")
        if r["recorded_at"] != rfc3339(r["recorded_at_micros"]):
            raise Bad(f"position {pos}: recorded_at does not match recorded_at_micros")
        body = encode(types, events[tag][1], payload, f"position {pos}: event.{tag}")
        canonical = (bytes([1]) + b"".join(encode(types, t, r[f], f"position {pos}: {f}") for f, t in ENVELOPE)
                     + struct.pack("<Q", len(body)) + body + bytes.fromhex(r["prev_hash"]))
        if hashlib.sha256(canonical).hexdigest() != r["hash"].lower():
            raise Bad(f"position {pos}: the fields hash to {hashlib.sha256(canonical).hexdigest()}, the line claims {r['hash']}")
        want = versions[r["stream"]] + 1 if r["stream"] in versions else (1 if start == 1 else r["stream_version"])
        if r["stream_version"] != want:
            raise Bad(f"position {pos}: stream {r['stream']} should be at version {want}")
        versions[r["stream"]] = r["stream_version"]
        if head and head[0] == pos:
            if r["hash"].lower() != head[1]:
                raise Bad(f"position {pos}: the head noted earlier is not in the export (hash {r['hash']})")
            seen = True
        last, n = (pos, r["hash"].lower()), n + 1
    if not seen:
        raise Bad(f"position {head[0]}: the export ends before the head noted earlier")
    if n == 0:
        raise Bad("the export holds no records")
    return n, last


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("export", help="the export file (JSON lines); - reads standard input")
    p.add_argument("--from", dest="start", type=int, default=1,
                   help="the position the export starts at (an export made with `log export --from N`)")
    p.add_argument("--expect-head", help="POSITION:HASH noted earlier (the full 64-digit hash)")
    p.add_argument("--format-doc", default=Path(__file__).resolve().parent.parent / "docs" / "log-format.md")
    a = p.parse_args()
    if a.start < 1:
        p.error(f"--from must be 1 or more, not {a.start}")
    head = None
    if a.expect_head:
        pos, _, h = a.expect_head.strip().partition(":")
        if not (pos.strip().isdigit() and re.fullmatch(r"[0-9a-fA-F]{64}", h.strip())):
            p.error(f"--expect-head {a.expect_head!r}: expected POSITION:HASH with the full 64-digit hash, "
                    "e.g. 324:<64 hex> as `grantledger log verify` prints it (a prefix is not enough here)")
        head = (int(pos), h.strip().lower())
    events, types = load_layout(a.format_doc)
    name = "standard input" if a.export == "-" else a.export
    try:
        if a.export == "-":
            n, last = check(bounded_lines(sys.stdin.buffer), events, types, a.start, head)
        else:
            with open(a.export, "rb") as f:
                n, last = check(bounded_lines(f), events, types, a.start, head)
    except OSError as e:
        print(f"FAILED: cannot read {name}: {e.strerror or e}")
        return 1
    except (Bad, ValueError, KeyError, AttributeError, TypeError) as e:
        why = str(e) if isinstance(e, Bad) else f"a line is malformed: {e!r}"
        print(("FAILED at " if why.startswith("position") else "FAILED: ") + why)
        return 1
    print(f"ok: {n} records, positions {last[0] - n + 1}..{last[0]}, head {last[0]}:{last[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
