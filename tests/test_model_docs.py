"""Column descriptions have one wording per column: a description shared by several
models lives in a doc block (dbt_project/models/_column_docs.md), read with doc("<column>").

Why: the same column is described in up to 25 models' YAML; copies drift (a fix made in
one file and not the others) and the dbt docs then disagree with themselves.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import yaml

from customer_tiering.config import DBT_PROJECT_DIR

MODELS_DIR = DBT_PROJECT_DIR / "models"
DOC_BLOCK = re.compile(r"\{% docs (\w+) %\}\n(.*?)\n\{% enddocs %\}", re.S)
DOC_REFERENCE = re.compile(r"""\{\{ doc\(["'](\w+)["']\) \}\}""")


def doc_blocks() -> dict[str, str]:
    return {
        name: text
        for path in MODELS_DIR.rglob("*.md")
        for name, text in DOC_BLOCK.findall(path.read_text(encoding="utf-8"))
    }


def column_descriptions() -> list[tuple[Path, str, str, str]]:
    """(file, model, column, description) of every model column as written: columns that
    models share through a YAML anchor (one object once loaded) count once."""
    found, seen, documents = [], set(), []  # documents kept alive: ids stay unique
    for path in sorted(MODELS_DIR.rglob("*.yml")):
        documents.append(yaml.safe_load(path.read_text(encoding="utf-8")))
        for model in documents[-1].get("models") or []:
            for column in model.get("columns") or []:
                if id(column) in seen:
                    continue
                seen.add(id(column))
                text = str(column.get("description") or "").strip()
                found.append((path, model["name"], column["name"], text))
    return found


def test_every_doc_reference_names_a_block_of_that_column() -> None:
    blocks = doc_blocks()
    wrong = [
        (model, column, text)
        for _, model, column, text in column_descriptions()
        for name in DOC_REFERENCE.findall(text)
        if name not in blocks or name != column
    ]
    assert wrong == []


def test_no_column_description_is_copied_between_models() -> None:
    """A wording written out in two models' YAML belongs in a doc block."""
    models_by_wording: dict[tuple[str, str], list[str]] = defaultdict(list)
    for _, model, column, text in column_descriptions():
        if text and not DOC_REFERENCE.search(text):
            models_by_wording[(column, text)].append(model)
    copies = {key: models for key, models in models_by_wording.items() if len(models) > 1}
    assert copies == {}


def test_doc_blocks_are_each_used() -> None:
    used = {name for *_, text in column_descriptions() for name in DOC_REFERENCE.findall(text)}
    assert set(doc_blocks()) - used == set()
