"""The assembly in build_data.py, end to end on small synthetic sources (no downloads).

The parsers are tested on fixtures in the real formats (test_<source>.py); here their output is
replaced by a few hundred made-up records so the whole build (splits, sampling, TF-IDF
candidates, overlap filter, writing, datasheet) runs in seconds, twice, and is compared byte by byte.
"""

import random
from pathlib import Path

import build_data
import pytest
from corpora import bible, brown, debian, dictd, faq, fetch, gensim_data, wordnet
from datasheet import BEGIN, END

WORDS = ("alpha bravo cobalt delta ember falcon garnet harbor indigo jasper kernel lumen meadow nickel "
         "orchid pepper quartz raven silver timber umber velvet willow xenon yonder zephyr").split()


def _text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def _fake_sources(rng: random.Random) -> dict:
    sections, uses = ["net", "text", "games"], ["editing", "viewing", "gameplaying"]
    packages = [{
        "package": f"pkg{i}", "source": f"src{i // 2}", "version": "1.0", "section": sections[i % 3],
        "synopsis": f"{WORDS[i % 26]} {_text(rng, 4)}", "description": _text(rng, 30),
        "tags": [f"use::{uses[i % 3]}"],
    } for i in range(400)]
    lemmas = [f"{WORDS[i % 26]}{i % 60}" for i in range(60)]
    synsets = []
    for i in range(500):
        lemma = lemmas[i % 60]
        synsets.append({
            "synset_id": f"n{i:08d}", "pos": "n", "lexname": f"noun.{WORDS[i % 5]}", "lemmas": [lemma],
            "gloss": _text(rng, 8), "examples": [f"the {lemma} {_text(rng, 5)}"] if i % 2 else [],
        })
    foldoc = [{"headword": f"term{i}", "definition": _text(rng, 20), "category": ["lang", "hw", "net"][i % 3] if i % 5 else None}
              for i in range(400)]
    verses = [{"book": f"Book{b}", "book_index": b, "chapter": 1, "verse": v + 1,
               "kjv": _text(rng, 12), "web": _text(rng, 12)} for b in range(30) for v in range(12)]
    return {
        "packages": packages, "synsets": synsets, "foldoc": foldoc, "verses": verses,
        "jargon": [{"headword": f"jarg{i}", "definition": _text(rng, 15)} for i in range(20)],
        "devils": [{"headword": f"DEV{i}", "definition": _text(rng, 15)} for i in range(20)],
        "sections": [{"page": f"p{i % 4}.rst", "heading": _text(rng, 3), "text": _text(rng, 40)} for i in range(30)],
        "faqs": [{"source": "faq", "question": _text(rng, 8) + "?", "answer": _text(rng, 40)} for i in range(30)],
        "brown": [{"doc_id": f"c{i:02d}", "genre": ["news", "lore", "humor"][i % 3],
                   "paragraphs": [_text(rng, 50) for _ in range(4)]} for i in range(30)],
        "lee": ([_text(rng, 60) for _ in range(6)], [{"doc1": i, "doc2": j, "score": 0.2 + 0.05 * (i + j)} for i in range(6) for j in range(i + 1, 6)]),
        "wiki": [{"article": f"Art{i // 4}", "section": f"Sec{i}", "text": _text(rng, 50)} for i in range(20)],
    }


@pytest.fixture
def offline_build(monkeypatch, tmp_path):
    """Route build_data's downloads and parsers to synthetic records; return a function that builds into a folder."""
    fake = _fake_sources(random.Random(0))
    package_root = tmp_path / "pkg"
    (package_root / "dict").mkdir(parents=True)
    (package_root / "dict" / "data.noun").write_text("")
    (package_root / "test_data").mkdir()
    patches = {
        (fetch, "apt_lists"): lambda *a: package_root,
        (fetch, "apt_package"): lambda name, *a: (package_root, "1.0"),
        (fetch, "npm_package"): lambda name, *a: (package_root, "1.0"),
        (fetch, "pip_package"): lambda name, *a: (package_root, "1.0"),
        (debian, "read_debian_index"): lambda *a: fake["packages"],
        (debian, "index_release_date"): lambda *a: "today",
        (wordnet, "read_wordnet"): lambda *a: fake["synsets"],
        (dictd, "read_foldoc"): lambda *a: fake["foldoc"],
        (dictd, "read_jargon"): lambda *a: fake["jargon"],
        (dictd, "read_devils"): lambda *a: fake["devils"],
        (faq, "read_python_doc_sections"): lambda *a: fake["sections"],
        (faq, "read_python_faq"): lambda *a: fake["faqs"][:10],
        (faq, "read_debian_faq"): lambda *a: fake["faqs"][10:20],
        (faq, "read_perlfaq"): lambda *a: fake["faqs"][20:],
        (bible, "read_bible"): lambda *a: {},
        (bible, "aligned_verses"): lambda *a: fake["verses"],
        (brown, "read_brown"): lambda *a: fake["brown"],
        (gensim_data, "read_lee"): lambda *a: fake["lee"],
        (gensim_data, "read_wiki_sample"): lambda *a: fake["wiki"],
        (build_data, "copy_licenses"): lambda out: None,
    }
    for (module, name), replacement in patches.items():
        monkeypatch.setattr(module, name, replacement)

    def build(out: Path) -> Path:
        out.mkdir()
        (out / "README.md").write_text(f"# sheet\n{BEGIN}\n{END}\n")
        build_data.main(["--out", str(out)])
        return out

    return build


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_build_is_byte_identical_when_repeated(offline_build, tmp_path):
    first = _files(offline_build(tmp_path / "a"))
    second = _files(offline_build(tmp_path / "b"))
    assert len(first) > 30
    assert first == second


def test_build_output_loads_and_keeps_evaluation_unseen(offline_build, tmp_path):
    from mote_lib.data import list_eval_tasks, load_eval_task, load_training_data

    out = offline_build(tmp_path / "out")
    train = load_training_data(out)
    assert sorted(train) == ["classification", "clustering", "retrieval"]
    eval_texts = set()
    for name in list_eval_tasks(out):
        for parts in load_eval_task(name, out).splits.values():
            for ds in parts.values():
                for column in {"text", "sentence1", "sentence2"} & set(ds.column_names):
                    eval_texts.update(build_data.normalise(t) for t in ds[column])
    for datasets in train.values():
        for ds in datasets.values():
            for column in ("anchor", "positive", "negative"):
                assert not {build_data.normalise(t) for t in ds[column] if t} & eval_texts


def _training_texts(train, task, dataset):
    ds = train[task][dataset]
    return {t for column in ("anchor", "positive", "negative") for t in ds[column] if t}


def test_held_out_units_never_reach_training(offline_build, tmp_path):
    from mote_lib.data import load_training_data

    train = load_training_data(offline_build(tmp_path / "out"))
    fake = _fake_sources(random.Random(0))
    held = {
        "bible": {v["kjv"] for v in fake["verses"] if build_data.held_out(v["book"], "bible")},
        "debian": {p["description"] for p in fake["packages"] if build_data.held_out(p["source"], "debian")},
        "wordnet": {s["gloss"] for s in fake["synsets"] if any(build_data.held_out(x.lower(), "wordnet") for x in s["lemmas"])},
        "foldoc": {e["definition"] for e in fake["foldoc"] if build_data.held_out(e["headword"].lower(), "foldoc")},
    }
    assert all(held.values()), "each synthetic source should hold out at least one unit"
    assert not held["bible"] & _training_texts(train, "classification", "bible_kjv_web")
    assert not held["debian"] & (_training_texts(train, "retrieval", "debian_synopsis_description") | _training_texts(train, "clustering", "debian_section"))
    assert not held["wordnet"] & (_training_texts(train, "retrieval", "wordnet_word_gloss") | _training_texts(train, "classification", "wordnet_supersense"))
    assert not held["foldoc"] & (_training_texts(train, "retrieval", "foldoc_term_definition") | _training_texts(train, "clustering", "foldoc_category"))


def test_jargon_terms_held_out_of_foldoc_are_held_out_of_training(offline_build, tmp_path, monkeypatch):
    from mote_lib.data import load_training_data

    fake = _fake_sources(random.Random(0))
    held_term = next(e["headword"] for e in fake["foldoc"] if build_data.held_out(e["headword"].lower(), "foldoc"))
    jargon = fake["jargon"] + [{"headword": held_term.upper(), "definition": "quoted by FOLDOC " + _text(random.Random(1), 12)}]
    monkeypatch.setattr(dictd, "read_jargon", lambda *a: jargon)
    train = load_training_data(offline_build(tmp_path / "out"))
    assert held_term.upper() not in train["retrieval"]["jargon_term_definition"]["anchor"]
    assert len(train["retrieval"]["jargon_term_definition"]) == len(fake["jargon"])


def test_near_duplicates_are_caught_and_shared_boilerplate_is_not():
    rng = random.Random(3)
    evaluation = _text(rng, 60)
    index = build_data.NearDuplicateIndex([evaluation])
    assert index.matches(evaluation[: len(evaluation) // 2])  # an evaluation text cut short
    assert index.matches("[Jargon File] " + evaluation + " (1999)")  # quoted inside a longer entry
    boilerplate = " ".join(evaluation.split()[:9])
    assert not index.matches(boilerplate + " " + _text(random.Random(4), 60))  # one shared sentence in a long text


def test_overlap_filter_drops_examples_sharing_an_evaluation_text():
    b = build_data.Build()
    b.add_eval({"name": "T", "type": "STS"}, {"test": [{"sentence1": "Shared  TEXT", "sentence2": "x", "score": 1}]})
    b.add_train("retrieval", "d", [["q", "shared text"], ["q2", "fine"]], labels=None)
    b.add_train("clustering", "c", [["shared text", "p"], ["a", "b"]], labels=["l1", "l2"])
    assert build_data.drop_eval_overlap(b) == {("retrieval", "d"): 1, ("clustering", "c"): 1}
    assert b.train[("retrieval", "d")]["examples"] == [["q2", "fine"]]
    assert b.train[("clustering", "c")]["labels"] == ["l2"]


def test_stable_split_depends_only_on_the_unit():
    keys = [f"pkg{i}" for i in range(2000)]
    first = [build_data.held_out(k, "debian") for k in keys]
    assert first == [build_data.held_out(k, "debian") for k in reversed(keys)][::-1]
    assert 0.15 < sum(first) / len(first) < 0.25


def test_jsonl_writer_leaves_no_timestamp_or_name_in_the_gzip_header(tmp_path):
    build_data.write_jsonl_gz(tmp_path / "one.jsonl.gz", [["a", "b"], {"text": "é", "label": "x"}])
    header = (tmp_path / "one.jsonl.gz").read_bytes()[:10]
    assert header[4:8] == b"\0\0\0\0", "gzip mtime must be zero"
    assert header[3] & 0x08 == 0, "gzip must not store a file name"
