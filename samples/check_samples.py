"""Check samples/retrieval-eval.jsonl against the documents in samples/corpus/.

For every question, the evidence must be a verbatim span (case-insensitive, whitespace
collapsed) of the plain text of its document:
  - Markdown: the file text;
  - HTML: BeautifulSoup(...).get_text(" ") after removing <script> and <style>;
  - PDF: the pypdf text of the labelled page.
The evidence must also lie inside one paragraph / list item / table cell (one text node
for HTML, one source paragraph of samples/pdf-sources/ for PDFs) and must not occur in
any other document. The script also checks the counts promised in samples/README.md.

Usage (needs beautifulsoup4 and pypdf):
    python samples/check_samples.py            # summary, exit 1 on any problem
    python samples/check_samples.py --overlap  # also list words that paraphrase
                                               # questions share with their evidence
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

from bs4 import BeautifulSoup, NavigableString
from pypdf import PdfReader

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
SOURCES = HERE / "pdf-sources"
EVAL = HERE / "retrieval-eval.jsonl"
PAGE_BREAK = "---page---"

MIN_QUESTIONS = 48
MIN_FILES = {"md": 6, "html": 4, "pdf": 2}
MIN_WORDS, MAX_WORDS = 400, 1000
MIN_EVIDENCE, MAX_EVIDENCE = 20, 160
MIN_PER_DOCUMENT = 3
MIN_PDF_PAGES = 3
TARGET_DOC, TARGET_PAGE, TARGET_MIN = "travel-policy.pdf", 2, 2
KINDS = ("lexical", "paraphrase")
FIELDS = {"id", "question", "document", "evidence", "page", "kind"}
MARKDOWN_SYNTAX = ("**", "__", "`", "[", "](", "<", ">")

STOPWORDS = frozenset(
    re.findall(
        r"\w+",
        "a an the and or of to in on at for by with from is are was be been do does did i my me "
        "we our you your it its this that what which who when where how can if there any much "
        "many long get will should must need have has after before per not no",
    )
)


def norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


class Document:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = path.name
        self.kind = path.suffix.lstrip(".")
        self.raw = ""  # for the ASCII check (text files only)
        self.pages: list[str] = []  # PDF: extracted text per page
        self.units: list[list[str]] = []  # per page (one page for md/html): normalised units
        self.text = ""  # normalised plain text of the whole document
        self.title = ""
        getattr(self, f"_load_{self.kind}")()

    def _load_md(self) -> None:
        self.raw = self.path.read_text(encoding="utf-8")
        units: list[str] = []
        current: list[str] = []
        for line in [*self.raw.splitlines(), ""]:
            stripped = line.strip()
            item = re.match(r"^(?:[-*]|\d+\.)\s+(.*)$", stripped)
            if not stripped or stripped.startswith("#") or item:
                if current:
                    units.append(" ".join(current))
                    current = []
                if stripped.startswith("#"):
                    units.append(stripped.lstrip("#").strip())
                elif item:
                    current.append(item.group(1))
            else:
                current.append(stripped)
        first = self.raw.lstrip().splitlines()[0] if self.raw.strip() else ""
        self.title = first[2:].strip() if first.startswith("# ") else ""
        self.units = [[norm(u) for u in units]]
        self.text = norm(self.raw)

    def _load_html(self) -> None:
        self.raw = self.path.read_text(encoding="utf-8")
        soup = BeautifulSoup(self.raw, "html.parser")
        self.title = soup.title.get_text(strip=True) if soup.title else ""
        for tag in soup(["script", "style"]):
            tag.decompose()
        self.text = norm(soup.get_text(" "))
        nodes = [s for s in soup.find_all(string=True) if type(s) is NavigableString]
        self.units = [[norm(str(s)) for s in nodes if str(s).strip()]]

    def _load_pdf(self) -> None:
        reader = PdfReader(self.path)
        self.title = (reader.metadata.title or "") if reader.metadata else ""
        self.pages = [norm(page.extract_text() or "") for page in reader.pages]
        self.text = " ".join(self.pages)
        source = SOURCES / f"{self.path.stem}.md"
        self.raw = source.read_text(encoding="utf-8") if source.exists() else ""
        self.units = []
        for page in self.raw.split(f"\n{PAGE_BREAK}\n"):
            lines = page.strip().splitlines()
            paragraphs: list[str] = [lines[0]] if lines else []
            current: list[str] = []
            for line in [*lines[1:], ""]:
                stripped = line.strip()
                if (not stripped or stripped.startswith("- ")) and current:
                    paragraphs.append(" ".join(current))
                    current = []
                if stripped:
                    current.append(stripped)
            self.units.append([norm(p) for p in paragraphs])

    def words(self) -> int:
        return len(self.text.split())


def main() -> int:
    show_overlap = "--overlap" in sys.argv[1:]
    problems: list[str] = []

    def problem(msg: str) -> None:
        problems.append(msg)

    # ---- corpus -------------------------------------------------------------------
    files = sorted(p for p in CORPUS.iterdir() if p.is_file())
    docs: dict[str, Document] = {}
    for path in files:
        if path.suffix not in (".md", ".html", ".pdf"):
            problem(f"corpus: unexpected file {path.name}")
            continue
        docs[path.name] = doc = Document(path)
        if not doc.title:
            problem(f"{doc.name}: no title (# heading, <title> or PDF title metadata)")
        if not MIN_WORDS <= doc.words() <= MAX_WORDS:
            problem(f"{doc.name}: {doc.words()} words, expected {MIN_WORDS}-{MAX_WORDS}")
        bad = sorted({c for c in doc.raw if ord(c) > 126 or (ord(c) < 32 and c not in "\n\t")})
        if bad:
            problem(f"{doc.name}: non-ASCII characters {bad!r} in the file or its PDF source")
        if doc.kind == "pdf":
            if not doc.raw:
                problem(f"{doc.name}: no source samples/pdf-sources/{path.stem}.md")
            elif len(doc.units) != len(doc.pages):
                problem(f"{doc.name}: {len(doc.pages)} pages, source has {len(doc.units)}: rebuild")
            else:
                for n, (units, page) in enumerate(zip(doc.units, doc.pages, strict=True), start=1):
                    if not all(u in page for u in units):
                        problem(f"{doc.name}: page {n} differs from its source: rebuild")
            if len(doc.pages) < MIN_PDF_PAGES:
                problem(f"{doc.name}: {len(doc.pages)} pages, expected >= {MIN_PDF_PAGES}")
    by_type = Counter(d.kind for d in docs.values())
    for kind, minimum in MIN_FILES.items():
        if by_type[kind] < minimum:
            problem(f"corpus: {by_type[kind]} .{kind} files, expected >= {minimum}")
    if TARGET_DOC not in docs:
        problem(f"corpus: {TARGET_DOC} is missing")

    # ---- questions ----------------------------------------------------------------
    questions = []
    for lineno, line in enumerate(EVAL.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            questions.append((lineno, json.loads(line)))
        except json.JSONDecodeError as exc:
            problem(f"line {lineno}: invalid JSON ({exc})")

    ids: Counter[str] = Counter()
    per_doc: Counter[str] = Counter()
    pages_used: dict[str, set[int]] = defaultdict(set)
    kinds: Counter[str] = Counter()
    kinds_by_type: Counter[tuple[str, str]] = Counter()
    target_questions: list[str] = []
    overlaps: list[str] = []

    for lineno, q in questions:
        where = f"line {lineno} ({q.get('id', '?')})"
        if not isinstance(q, dict) or set(q) != FIELDS:
            problem(f"{where}: fields must be exactly {sorted(FIELDS)}")
            continue
        qid, question, name = q["id"], q["question"], q["document"]
        evidence, page, kind = q["evidence"], q["page"], q["kind"]
        ids[qid] += 1
        if not isinstance(qid, str) or not re.fullmatch(r"q\d{2,}", qid):
            problem(f"{where}: id must look like q01")
        if not isinstance(question, str) or len(question.strip()) < 10:
            problem(f"{where}: question is missing or too short")
        if kind not in KINDS:
            problem(f"{where}: kind must be one of {KINDS}")
        if not isinstance(evidence, str):
            problem(f"{where}: evidence must be a string")
            continue
        if not MIN_EVIDENCE <= len(evidence) <= MAX_EVIDENCE:
            problem(f"{where}: evidence has {len(evidence)} characters")
        if any(s in evidence for s in MARKDOWN_SYNTAX) or evidence.lstrip().startswith("#"):
            problem(f"{where}: evidence contains markup")
        if any(ord(c) > 126 for c in question + evidence):
            problem(f"{where}: non-ASCII character in question or evidence")
        doc = docs.get(name)
        if doc is None:
            problem(f"{where}: document {name!r} is not in samples/corpus")
            continue
        per_doc[name] += 1
        kinds[kind] += 1
        kinds_by_type[(doc.kind, kind)] += 1
        ev = norm(evidence)

        if doc.kind == "pdf":
            if (
                not isinstance(page, int)
                or isinstance(page, bool)
                or not 1 <= page <= len(doc.pages)
            ):
                problem(f"{where}: page {page!r} does not exist in {name} ({len(doc.pages)} pages)")
                continue
            pages_used[name].add(page)
            haystack, units = (
                doc.pages[page - 1],
                doc.units[page - 1] if page <= len(doc.units) else [],
            )
            if name == TARGET_DOC and page == TARGET_PAGE:
                target_questions.append(qid)
        else:
            if page is not None:
                problem(f"{where}: page must be null for a .{doc.kind} document")
            haystack, units = doc.text, doc.units[0]
        if ev not in haystack:
            where_else = [n for n, p in enumerate(doc.pages, start=1) if ev in p]
            hint = f" (found on page {where_else})" if where_else else ""
            problem(
                f"{where}: evidence not found in {name}"
                + (f" page {page}" if doc.kind == "pdf" else "")
                + hint
            )
        elif not any(ev in u for u in units):
            problem(f"{where}: evidence crosses a paragraph, list item, cell or tag boundary")
        others = [n for n, d in docs.items() if n != name and ev in d.text]
        if others:
            problem(f"{where}: evidence also occurs in {others}")

        if show_overlap and kind == "paraphrase":

            def words(s: str) -> set[str]:
                return {w.rstrip("s") for w in re.findall(r"[a-z0-9]+", s.lower())} - STOPWORDS

            shared = sorted(words(question) & words(evidence))
            if shared:
                overlaps.append(f"  {qid}: {', '.join(shared)}")

    for qid, n in ids.items():
        if n > 1:
            problem(f"id {qid} is used {n} times")
    total = len(questions)
    if total < MIN_QUESTIONS:
        problem(f"{total} questions, expected >= {MIN_QUESTIONS}")
    for name, doc in docs.items():
        if per_doc[name] < MIN_PER_DOCUMENT:
            problem(f"{name}: {per_doc[name]} questions, expected >= {MIN_PER_DOCUMENT}")
        if doc.kind == "pdf" and len(pages_used[name]) < 3:
            problem(f"{name}: questions on pages {sorted(pages_used[name])}, expected >= 3 pages")
    if len(target_questions) < TARGET_MIN:
        found = len(target_questions)
        problem(f"{TARGET_DOC}: {found} questions on page {TARGET_PAGE}, expected >= {TARGET_MIN}")
    for kind in KINDS:
        if total and not 0.35 <= kinds[kind] / total <= 0.65:
            problem(f"kind {kind!r}: {kinds[kind]} of {total} questions, expected roughly half")

    # ---- report -------------------------------------------------------------------
    types = ", ".join(f"{by_type[k]} {k}" for k in ("md", "html", "pdf"))
    print(f"corpus: {len(docs)} documents ({types})")
    for name, doc in docs.items():
        pages = (
            f", {len(doc.pages)} pages, questions on pages {sorted(pages_used[name])}"
            if doc.kind == "pdf"
            else ""
        )
        print(f"  {name:32} {doc.words():4} words  {per_doc[name]:2} questions{pages}")
    print(f"questions: {total} ({', '.join(f'{kinds[k]} {k}' for k in KINDS)})")
    for t in ("md", "html", "pdf"):
        print(
            f"  {t:5} {sum(kinds_by_type[(t, k)] for k in KINDS):3}  "
            + ", ".join(f"{kinds_by_type[(t, k)]} {k}" for k in KINDS)
        )
    print(f"{TARGET_DOC} page {TARGET_PAGE}: {', '.join(target_questions) or 'none'}")
    if overlaps:
        print("paraphrase questions sharing words with their evidence:")
        print("\n".join(overlaps))
    if problems:
        print(f"FAILED: {len(problems)} problem(s)")
        for msg in problems:
            print(f"  - {msg}")
        return 1
    print("OK: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
