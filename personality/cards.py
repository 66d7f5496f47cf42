"""Character Card V2 (chara_card_v2) import and export, as JSON or as a PNG with a `chara` tEXt chunk.

Field mapping (export → card `data`; import reads it back):
- name ← name; description ← long description; personality ← speaking style;
- mes_example ← style examples as `<START>\\n{{user}}: …\\n{{char}}: …` blocks;
- character_book.entries ← facts (content = text, keys = tags, constant = pinned);
- scenario, first_mes, alternate_greetings, system_prompt, post_history_instructions, tags,
  creator, creator_notes, character_version ← kept from an imported card, else DigitalMe defaults;
- extensions.digitalme ← what the card format has no field for (slug, short bio, languages,
  values, boundaries, traits with bounds, each fact's/example's source and language), so that
  export → import → export is identical. Other tools' extensions are kept as they came.
Importing a card made elsewhere (no extensions.digitalme): the slug comes from the name, the
short bio from `personality` or the start of `description`, `<START>` blocks found in
`mes_example` (or, as SillyTavern's default cards do, in `description`) become style examples.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import struct
import zlib
from collections.abc import Callable
from io import BytesIO
from typing import Any

from django.utils.text import slugify

from digitalme.language import detect_language
from personality.schema import PersonaDataError

SPEC = "chara_card_v2"
SPEC_VERSION = "2.0"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CARD_FIELDS = (
    "scenario",
    "first_mes",
    "alternate_greetings",
    "system_prompt",
    "post_history_instructions",
    "tags",
    "creator",
    "creator_notes",
    "character_version",
)
_START = re.compile(r"^\s*<START>\s*$", re.MULTILINE | re.IGNORECASE)
_TURN = re.compile(r"^\s*(\{\{user\}\}|\{\{char\}\}|<USER>|<BOT>)\s*:\s*", re.MULTILINE | re.IGNORECASE)


class CardError(PersonaDataError):
    code = "invalid_card"


# --- export ---------------------------------------------------------------------------------


def _mes_example(examples: list[dict]) -> str:
    return "\n".join(f"<START>\n{{{{user}}}}: {ex['user']}\n{{{{char}}}}: {ex['answer']}" for ex in examples)


def _defaults(snapshot: dict) -> dict[str, Any]:
    first_name = snapshot["name"].split()[0]
    greeting = next((ex["answer"] for ex in snapshot["style_examples"] if ex["language"] == "en"), "")
    return {
        "scenario": f"A conversation with {first_name} on DigitalMe, his digital clone.",
        "first_mes": greeting or f"Hi, I'm {first_name}.",
        "alternate_greetings": [],
        "system_prompt": "",
        "post_history_instructions": "",
        "tags": ["digitalme", *snapshot["languages"]],
        "creator": "DigitalMe",
        "creator_notes": snapshot["short_bio"],
        "character_version": "",
    }


def card_export(snapshot: dict, *, version: int | None = None) -> dict:
    """The Character Card V2 of a persona snapshot (personality.schema format)."""
    stored = snapshot.get("card") or {}
    defaults = _defaults(snapshot)
    data: dict[str, Any] = {"name": snapshot["name"], "description": snapshot["description"]}
    data["personality"] = snapshot["speaking_style"]
    data["mes_example"] = _mes_example(snapshot["style_examples"])
    for key in CARD_FIELDS:
        data[key] = stored.get(key, defaults[key])
    if "character_version" not in stored and version is not None:
        data["character_version"] = str(version)
    book = dict(stored.get("character_book_meta") or {"name": f"{snapshot['name']}: facts"})
    book["entries"] = [
        {
            "id": index,
            "keys": list(fact["tags"]),
            "content": fact["text"],
            "enabled": True,
            "insertion_order": index,
            "constant": fact["pinned"],
            "extensions": {},
        }
        for index, fact in enumerate(snapshot["facts"])
    ]
    data["character_book"] = book
    data["extensions"] = {
        **(stored.get("extensions") or {}),
        "digitalme": {
            "format": 1,
            "slug": snapshot["slug"],
            "short_bio": snapshot["short_bio"],
            "languages": snapshot["languages"],
            "values": snapshot["values"],
            "boundaries": snapshot["boundaries"],
            "traits": snapshot["traits"],
            "fact_sources": [fact["source"] for fact in snapshot["facts"]],
            "example_meta": [{"language": ex["language"], "source": ex["source"]} for ex in snapshot["style_examples"]],
        },
    }
    return {"spec": SPEC, "spec_version": SPEC_VERSION, "data": data}


def card_png(card: dict, *, image: bytes | None = None) -> bytes:
    """A PNG carrying the card the way SillyTavern writes it: base64 JSON in a `chara` tEXt chunk."""
    if image is None:
        image = _initials_portrait(card["data"]["name"])
    payload = base64.b64encode(json.dumps(card, ensure_ascii=False).encode()).decode("ascii")
    chunks = [chunk for chunk in _png_chunks(image) if not (chunk[0] == b"tEXt" and chunk[1].startswith(b"chara\0"))]
    text = b"chara\0" + payload.encode("latin-1")
    out = BytesIO()
    out.write(PNG_SIGNATURE)
    for kind, body in chunks:
        if kind == b"IEND":
            _write_chunk(out, b"tEXt", text)
        _write_chunk(out, kind, body)
    return out.getvalue()


def _initials_portrait(name: str) -> bytes:
    from PIL import Image, ImageDraw

    picture = Image.new("RGB", (400, 600), (38, 70, 83))
    draw = ImageDraw.Draw(picture)
    initials = "".join(part[0] for part in name.split()[:2]).upper() or "?"
    draw.text((200, 300), initials, fill=(233, 196, 106), anchor="mm", font_size=160)
    buffer = BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def _write_chunk(out: BytesIO, kind: bytes, body: bytes) -> None:
    out.write(struct.pack(">I", len(body)))
    out.write(kind)
    out.write(body)
    out.write(struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    if not data.startswith(PNG_SIGNATURE):
        raise CardError("not a PNG file", field="(file)")
    chunks, offset = [], len(PNG_SIGNATURE)
    while offset + 8 <= len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        if len(body) != length:
            raise CardError(f"truncated PNG chunk {kind!r}", field="(file)")
        chunks.append((kind, body))
        offset += 12 + length
        if kind == b"IEND":
            break
    return chunks


# --- import ---------------------------------------------------------------------------------


def card_read(content: bytes) -> dict:
    """The card JSON from a file's bytes: a PNG with a `chara` (or V3 `ccv3`) tEXt chunk, or JSON."""
    if content.startswith(PNG_SIGNATURE):
        texts = {}
        for kind, body in _png_chunks(content):
            if kind == b"tEXt" and b"\0" in body:
                keyword, _, text = body.partition(b"\0")
                texts[keyword.decode("latin-1")] = text
        raw = texts.get("chara") or texts.get("ccv3")
        if raw is None:
            raise CardError("the PNG has no `chara` tEXt chunk: not a character card", field="(file)")
        try:
            content = base64.b64decode(raw, validate=False)
        except (binascii.Error, ValueError) as exc:
            raise CardError(f"the `chara` chunk is not base64: {exc}", field="chara") from exc
    try:
        card = json.loads(content.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise CardError(f"not UTF-8 JSON: {exc}", field="(file)") from exc
    except json.JSONDecodeError as exc:
        raise CardError(f"not valid JSON: {exc.msg}", field="(file)", line=exc.lineno) from exc
    if not isinstance(card, dict):
        raise CardError("a card must be a JSON object", field="(root)")
    return card


def _parse_examples(text: str) -> list[dict]:
    """`<START>` blocks of `{{user}}: … / {{char}}: …` turns → (user message, answer) pairs."""
    examples = []
    for block in _START.split(text)[1:]:
        block = block.split("\n[", 1)[0] if "\n[" in block else block  # a trailing "[Genre: …]" note
        turns = _TURN.split(block)
        # turns = [before, speaker, text, speaker, text, ...]
        pending_user: str | None = None
        for speaker, said in zip(turns[1::2], turns[2::2], strict=False):
            said = said.strip()
            if speaker.lower() in ("{{user}}", "<user>"):
                pending_user = said
            elif pending_user:
                examples.append({"user": pending_user, "answer": said})
                pending_user = None
    return examples


def _require(mapping: dict, key: str, field: str, kinds: type | tuple[type, ...], *, default: Any = None) -> Any:
    value = mapping.get(key, default)
    if value is None:
        raise CardError("is required", field=field)
    if not isinstance(value, kinds):
        expected = " or ".join(k.__name__ for k in (kinds if isinstance(kinds, tuple) else (kinds,)))
        raise CardError(f"must be {expected}, got {type(value).__name__}", field=field)
    return value


def card_to_snapshot(card: dict, *, slug: str | None = None) -> tuple[dict, Callable[[str], str]]:
    """A raw persona snapshot from a card, and a function naming the card field behind a snapshot field."""
    if card.get("spec") != SPEC:
        raise CardError(f"must be {SPEC!r} (Character Card V2), got {card.get('spec')!r}", field="spec")
    data = _require(card, "data", "data", dict)
    name = _require(data, "name", "data.name", str).strip()
    if not name:
        raise CardError("must not be empty", field="data.name")
    description = _require(data, "description", "data.description", str, default="")
    personality = _require(data, "personality", "data.personality", str, default="")
    mes_example = _require(data, "mes_example", "data.mes_example", str, default="")
    extensions = _require(data, "extensions", "data.extensions", dict, default={})
    ours = extensions.get("digitalme")
    if ours is not None and not isinstance(ours, dict):
        raise CardError("must be an object", field="data.extensions.digitalme")
    ours = ours or {}

    book = _require(data, "character_book", "data.character_book", dict, default={"entries": []})
    entries = _require(book, "entries", "data.character_book.entries", list, default=[])
    fact_sources = ours.get("fact_sources") or []
    facts = []
    fact_entry_index: list[int] = []  # facts[i] came from entries[fact_entry_index[i]]
    for index, entry in enumerate(entries):
        field = f"data.character_book.entries[{index}]"
        if not isinstance(entry, dict):
            raise CardError("must be an object", field=field)
        if entry.get("enabled", True) is False:
            continue
        keys = _require(entry, "keys", f"{field}.keys", list, default=[])
        if not all(isinstance(key, str) for key in keys):
            raise CardError("must be a list of strings", field=f"{field}.keys")
        constant = _require(entry, "constant", f"{field}.constant", bool, default=False)
        fact_entry_index.append(index)
        facts.append(
            {
                "text": _require(entry, "content", f"{field}.content", str),
                "tags": [key for key in keys if key.strip()],
                "pinned": constant,
                "source": fact_sources[index] if index < len(fact_sources) else "curated",
            }
        )

    examples = _parse_examples(mes_example)
    if not examples and not mes_example.strip():
        examples = _parse_examples(description)
    meta = ours.get("example_meta") or []
    for index, example in enumerate(examples):
        extra = meta[index] if index < len(meta) and isinstance(meta[index], dict) else {}
        example["language"] = extra.get("language") or detect_language(example["user"] + " " + example["answer"])
        example["source"] = extra.get("source", "curated")

    stored: dict[str, Any] = {}
    for key in CARD_FIELDS:
        if key in data:
            stored[key] = data[key]
    foreign_extensions = {k: v for k, v in extensions.items() if k != "digitalme"}
    if foreign_extensions:
        stored["extensions"] = foreign_extensions
    book_meta = {k: v for k, v in book.items() if k != "entries"}
    if book_meta:
        stored["character_book_meta"] = book_meta
    short_bio = ours.get("short_bio") or _first_words(personality or description or name, 500)
    raw = {
        "slug": slug or ours.get("slug") or slugify(name)[:64] or "persona",
        "name": name[:120],
        "short_bio": short_bio,
        "description": description,
        "languages": ours.get("languages") or sorted({ex["language"] for ex in examples}) or ["en"],
        "speaking_style": personality,
        "values": ours.get("values") or [],
        "boundaries": ours.get("boundaries") or [],
        "traits": ours.get("traits") or [],
        "facts": facts,
        "style_examples": examples,
        "card": stored,
    }
    return raw, lambda field: card_field(field, fact_entry_index)


_SNAPSHOT_TO_CARD = {
    "name": "data.name",
    "description": "data.description",
    "speaking_style": "data.personality",
    "short_bio": "data.extensions.digitalme.short_bio",
    "slug": "data.extensions.digitalme.slug",
    "languages": "data.extensions.digitalme.languages",
    "values": "data.extensions.digitalme.values",
    "boundaries": "data.extensions.digitalme.boundaries",
    "traits": "data.extensions.digitalme.traits",
    "card": "data",
}
_FACT_FIELDS = {"text": "content", "tags": "keys", "pinned": "constant", "source": "source"}


def card_field(field: str, fact_entry_index: list[int]) -> str:
    """The card field a snapshot validation error points at (facts[3].text → data.character_book.entries[5].content)."""
    match = re.match(r"^facts\[(\d+)\](?:\.(\w+))?", field)
    if match:
        index = int(match.group(1))
        entry = fact_entry_index[index] if index < len(fact_entry_index) else index
        suffix = f".{_FACT_FIELDS.get(match.group(2), match.group(2))}" if match.group(2) else ""
        return f"data.character_book.entries[{entry}]{suffix}"
    match = re.match(r"^style_examples\[(\d+)\]", field)
    if match:
        return f"data.mes_example (<START> block {int(match.group(1)) + 1})"
    head = re.split(r"[.\[]", field, maxsplit=1)[0]
    if head in _SNAPSHOT_TO_CARD:
        return _SNAPSHOT_TO_CARD[head] + field[len(head) :]
    return field


def _first_words(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[: limit - 1].rsplit(" ", 1)[0] + "…"
