"""The README is a learner's first page; the detail lives in docs/, and every link between them resolves."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]


def _unfenced(text: str) -> str:
    return re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)


def _prose(text: str) -> str:
    """The text outside code blocks and inline code, where a link is a link."""
    return re.sub(r"`[^`\n]*`", "", _unfenced(text))


def _links(text: str) -> list[str]:
    return re.findall(r"\]\(([^)\s]+)\)", _prose(text))


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_the_readme_is_a_first_page_not_a_log():
    size = len(README.read_text())
    assert size < 10_000, f"README.md has {size} characters; move detail to a page under docs/"


def test_the_readme_starts_with_make_lab_then_make_test():
    block = re.search(r"^```bash\n(.*?)^```", README.read_text(), flags=re.M | re.S).group(1)
    commands = [line.split("#", 1)[0].strip() for line in block.splitlines()]
    assert [c for c in commands if c][:2] == ["make lab", "make test"]
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^lab:", makefile, re.M) and re.search(r"^test:", makefile, re.M)


def test_every_relative_link_in_the_readme_and_docs_points_at_a_file():
    broken = []
    for page in PAGES:
        for link in _links(page.read_text()):
            if re.match(r"[a-z]+:", link):  # https:, mailto: and the like
                continue
            path, _, anchor = link.partition("#")
            target = (page.parent / path).resolve() if path else page
            if not target.exists():
                broken.append(f"{page.relative_to(ROOT)}: {link}")
            elif anchor and target.suffix == ".md":
                headings = re.findall(r"^#+ (.*)$", _unfenced(target.read_text()), re.M)
                if anchor not in {_anchor(h) for h in headings}:
                    broken.append(f"{page.relative_to(ROOT)}: {link} (no such heading)")
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_every_docs_page_is_linked_from_the_readme():
    linked = {(ROOT / link.partition("#")[0]).resolve() for link in _links(README.read_text())}
    missing = [page.name for page in PAGES[1:] if page.resolve() not in linked]
    assert not missing, "README.md does not link " + ", ".join(f"docs/{name}" for name in missing)
