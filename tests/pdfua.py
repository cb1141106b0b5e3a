"""What a PDF/UA check finds in a tagged document PDF, read with pikepdf from its
structure tree and content (portal/pdf_tags.py says what each rule mends): `problems`
lists them, one line each, so a test asserts `problems(pdf) == []` and shows all."""
from __future__ import annotations

import io
import re
from collections import Counter

import pikepdf

PAGINATION_ARTIFACT = re.compile(rb"/Artifact\s*<<\s*/Type\s*/Pagination\s*>>\s*BDC")
MARKED = re.compile(rb"<<\s*/MCID (\d+)\s*>>\s*BDC")


def open_pdf(data: bytes) -> pikepdf.Pdf:
    return pikepdf.open(io.BytesIO(data))


def kids(node) -> list:
    found = node.get("/K")
    if found is None:
        return []
    return list(found) if isinstance(found, pikepdf.Array) else [found]


def elements(node, kind: str | None = None) -> list[pikepdf.Dictionary]:
    """Structure elements under `node` in reading order (of one kind, e.g. "/Table")."""
    found, stack = [], list(reversed(kids(node)))
    while stack:
        kid = stack.pop()
        if isinstance(kid, pikepdf.Dictionary) and "/S" in kid:
            if kind is None or kid.S == kind:
                found.append(kid)
            stack.extend(reversed(kids(kid)))
    return found


def registered_ids(pdf: pikepdf.Pdf) -> dict[str, pikepdf.Dictionary]:
    """The /IDTree of the StructTreeRoot (a flat name tree, or one level of /Kids)."""
    tree = pdf.Root.StructTreeRoot.get("/IDTree")
    ids, nodes = {}, [tree] if tree is not None else []
    while nodes:
        node = nodes.pop()
        names = node.get("/Names", [])
        ids.update({str(names[i]): names[i + 1] for i in range(0, len(names), 2)})
        nodes.extend(node.get("/Kids", []))
    return ids


def page_marks(pdf: pikepdf.Pdf, index: int) -> tuple[list[int], int]:
    """The MCIDs of a page's marked content, and how many pagination artifacts it has."""
    page = pdf.pages[index]
    page.contents_coalesce()
    data = page.obj.Contents.read_bytes()
    return [int(m) for m in MARKED.findall(data)], len(PAGINATION_ARTIFACT.findall(data))


def problems(data: bytes) -> list[str]:
    found = []
    with open_pdf(data) as pdf:
        root = pdf.Root.StructTreeRoot
        tree = elements(root)
        in_tree = {element.objgen for element in tree}
        ids = registered_ids(pdf)
        all_ids = [str(element.ID) for element in tree if "/ID" in element]
        found += [f"id {key} used {n} times" for key, n in Counter(all_ids).items() if n > 1]
        found += [f"id {key} not in /IDTree" for key in all_ids if key not in ids]
        for th in (e for e in tree if e.S == "/TH"):
            scope = th.get("/A", {}).get("/Scope")
            if scope not in (pikepdf.Name.Row, pikepdf.Name.Column, pikepdf.Name.Both):
                found.append(f"TH {th.get('/ID')} without /Scope")
        for td in (e for e in tree if e.S == "/TD"):
            headers = [str(h) for h in td.get("/A", {}).get("/Headers", [])]
            if not headers:
                found.append("TD without /Headers")
            found += [f"TD /Headers names {h}, which is not registered" for h in headers if h not in ids]
        for table in (e for e in tree if e.S == "/Table"):
            groups = Counter(str(k.S) for k in kids(table) if isinstance(k, pikepdf.Dictionary))
            found += [f"a table has {n} {group}" for group, n in groups.items() if n > 1]
        for listing in (e for e in tree if e.S == "/L"):
            for item in kids(listing):
                if item.S != "/LI":
                    found.append(f"{item.S} in a list, not a list item")
                elif [str(k.S) for k in kids(item)][:1] != ["/Lbl"]:
                    found.append("a list item without a label (an unpaired label or value)")
        nums = root.ParentTree.Nums
        mapped = {int(nums[i]): nums[i + 1] for i in range(0, len(nums), 2)}
        for index in range(len(pdf.pages)):
            mcids, _ = page_marks(pdf, index)
            lost = [m for m in mcids if not isinstance(mapped[index][m], pikepdf.Dictionary)
                    or mapped[index][m].objgen not in in_tree]
            if lost:
                found.append(f"page {index + 1}: {len(lost)} marked contents outside the tree (not artifacts)")
        specs = [spec.objgen for spec in pdf.Root.get("/AF", [])]
        found += [f"/AF names an attachment {n} times" for n in Counter(specs).values() if n > 1]
        if any(key.startswith("/Portal") for element in tree for key in element.keys()):
            found.append("a private key left in the structure tree")
    return found
