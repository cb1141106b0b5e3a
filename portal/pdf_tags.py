"""PDF/UA tagging of the documents WeasyPrint writes (invoices, receipts, and whatever
else is printed the same way): one place, `tagged_pdf`, for every document PDF.

WeasyPrint (pdf_tags=True) tags headings, paragraphs, lists and tables, but per page:
an element that runs over a page break becomes one structure element per page, a
table's repeated header is tagged again on every page, the text of page margin boxes
hangs in the structure tree's parent tree without a place in the tree, header cells
carry ids no /IDTree registers and no /Scope, a `dl` comes out as unpaired list items,
and the catalog's /AF names an attachment twice. What HTML and CSS can say stays in
the templates (static/css/invoice-pdf.css: totals printed once, at the end); the rest
is mended here, with pikepdf, after WeasyPrint has written the file
(docs/accessibility.md#documents):

- fragments of one HTML element (WeasyPrint's boxes on consecutive pages) are one
  structure element again: one table, one list, one section;
- a table header (or footer) repeated on later pages, and the page margin boxes (the
  running header "Faktura 10003 · sida 2 av 40"), are artifacts (/Artifact
  /Pagination), not content: a screen reader reads them once, or not at all;
- every TH has /Scope (from its `scope` attribute; Column in a thead), a unique /ID
  registered in the StructTreeRoot's /IDTree, and every TD's /Headers names its row
  and column headers by those ids;
- a `dl`'s pairs (`<div><dt><dd></div>`) are list items of a label and its body
  (LI > Lbl + LBody), so "Organisationsnummer" and "556677-8899" are read as one item;
- /AF names each attachment once.

To know which boxes are one element, WeasyPrint's tag builder is wrapped (not
changed): each structure element it makes is marked with its HTML element (a private
key removed before the file is saved), and table header cells get their /Scope."""
from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable

import pikepdf
import pydyf
from lxml import etree
from flask_babel import gettext as _
from weasyprint import CSS, HTML
from weasyprint.pdf import tags as weasy_tags

PDF_VARIANT = "pdf/a-3b"  # archival (bookkeeping: 7 years), with room for attached XML

# Placeholders for the page number and count in a running header's (translated) text.
PAGE, PAGES = "\ue000", "\ue001"

_KEY = "PortalSource"   # private key: the HTML element a structure element was made from
_PDF_KEY = "/" + _KEY
_ARTIFACT = b"/Artifact <</Type /Pagination>> BDC"


def tagged_pdf(html: str, stylesheets: Iterable[CSS] = (), *, running_header: str | None = None,
               attachments: Iterable = (), then: Callable[[pikepdf.Pdf], None] | None = None) -> bytes:
    """`html` as PDF/A-3b bytes, tagged for PDF/UA (`tag_for_pdfua`). The document's
    language and title come from the HTML (`<html lang>`, `<title>`). `running_header`:
    text printed at the top of every page but the first, with PAGE and PAGES where the
    page's number and the page count go (an artifact, not content). `then` may change
    the opened file (its XMP, say) before it is saved."""
    sheets = list(stylesheets) + ([running_header_css(running_header)] if running_header else [])
    pdf = HTML(string=html).write_pdf(stylesheets=sheets, pdf_variant=PDF_VARIANT, pdf_tags=True,
                                      attachments=list(attachments))
    with pikepdf.open(io.BytesIO(pdf)) as opened:
        tag_for_pdfua(opened)
        if then is not None:
            then(opened)
        declare_pdfua(opened)
        out = io.BytesIO()
        opened.save(out)
    return out.getvalue()


def page_of_pages(title: str) -> str:
    """The running header of a document's later pages in the current language: its
    title, the page's number and the page count ("Faktura 10003 · sida 2 av 40")."""
    # Translators: printed at the top of a document's pages 2 and on, e.g. "Invoice 10003 · page 2 of 40".
    return _("%(document)s · page %(page)s of %(pages)s", document=title, page=PAGE, pages=PAGES)


def running_header_css(text: str, box: str = "top-right", first_page: bool = False) -> CSS:
    """A page margin box (`box`) on pages 2 and on — or on every page, `first_page` —
    with `text`, PAGE and PAGES as counters."""
    def quoted(part: str) -> str:
        return '"' + part.replace("\\", "\\\\").replace('"', '\\"') + '"'
    content = " ".join(quoted(part) if part not in (PAGE, PAGES) else
                       ("counter(page)" if part == PAGE else "counter(pages)")
                       for part in re.split(f"({PAGE}|{PAGES})", text) if part)
    near_text = "vertical-align: bottom; padding-bottom: 3mm;" if box.startswith("top") else ""
    first = "" if first_page else f"@page :first {{ @{box} {{ content: none; }} }}"
    return CSS(string=f"""
        @page {{ @{box} {{ content: {content}; font-family: "DejaVu Sans", "Liberation Sans", sans-serif;
                               font-size: 8pt; color: #333; {near_text} }} }}
        {first}""")


_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_EXTENSION = {"pdfaExtension": "http://www.aiim.org/pdfa/ns/extension/",
              "pdfaSchema": "http://www.aiim.org/pdfa/ns/schema#",
              "pdfaProperty": "http://www.aiim.org/pdfa/ns/property#"}
_PDFUA_ID = "http://www.aiim.org/pdfua/ns/id/"
_PDFUA_SCHEMA = f"""<rdf:li xmlns:rdf="{_RDF}" xmlns:pdfaSchema="{_EXTENSION['pdfaSchema']}"
    xmlns:pdfaProperty="{_EXTENSION['pdfaProperty']}" rdf:parseType="Resource">
  <pdfaSchema:schema>PDF/UA Universal Accessibility Schema</pdfaSchema:schema>
  <pdfaSchema:namespaceURI>{_PDFUA_ID}</pdfaSchema:namespaceURI>
  <pdfaSchema:prefix>pdfuaid</pdfaSchema:prefix>
  <pdfaSchema:property><rdf:Seq><rdf:li rdf:parseType="Resource">
    <pdfaProperty:name>part</pdfaProperty:name>
    <pdfaProperty:valueType>Integer</pdfaProperty:valueType>
    <pdfaProperty:category>internal</pdfaProperty:category>
    <pdfaProperty:description>Indicates, which part of ISO 14289 standard is followed</pdfaProperty:description>
  </rdf:li></rdf:Seq></pdfaSchema:property>
</rdf:li>"""


def declare_pdfua(pdf: pikepdf.Pdf) -> None:
    """Say in the XMP that the file follows PDF/UA-1 (pdfuaid:part 1), with the
    extension schema PDF/A asks for a namespace it does not know — added to the XMP's
    extension schemas if it has some (the Factur-X one), so they stay one property."""
    packet = etree.fromstring(pdf.Root.Metadata.read_bytes())
    rdf = packet if packet.tag == f"{{{_RDF}}}RDF" else packet.find(f".//{{{_RDF}}}RDF")
    bag = rdf.find(f"{{{_RDF}}}Description/{{{_EXTENSION['pdfaExtension']}}}schemas/{{{_RDF}}}Bag")
    if bag is None:
        description = etree.SubElement(rdf, f"{{{_RDF}}}Description", nsmap=_EXTENSION)
        description.set(f"{{{_RDF}}}about", "")
        bag = etree.SubElement(etree.SubElement(description, f"{{{_EXTENSION['pdfaExtension']}}}schemas"),
                               f"{{{_RDF}}}Bag")
    bag.append(etree.fromstring(_PDFUA_SCHEMA))
    description = etree.SubElement(rdf, f"{{{_RDF}}}Description", nsmap={"pdfuaid": _PDFUA_ID})
    description.set(f"{{{_RDF}}}about", "")
    etree.SubElement(description, f"{{{_PDFUA_ID}}}part").text = "1"
    pdf.Root.Metadata.write(etree.tostring(packet.getroottree(), encoding="utf-8"))  # with its xpacket PIs


# --- WeasyPrint's tag builder, wrapped ------------------------------------------------------

def _build_box_tree(box, parent, pdf, page_number, nums, annotations, tags):
    for element in _weasy_build_box_tree(box, parent, pdf, page_number, nums, annotations, tags):
        source = getattr(box, "_box", box).element  # an AbsolutePlaceholder's box
        if source is not None and _KEY not in element:
            element[_KEY] = pydyf.String(f"{source.tag}:{id(source)}")
            if element["S"] == "/TH":
                element["A"]["Scope"] = _scope_of(source)
        yield element


def _scope_of(th) -> str:
    scope = (th.get("scope") or "").lower()
    if scope in ("row", "col", "column", "both"):
        return {"row": "/Row", "both": "/Both"}.get(scope, "/Column")
    group = th.getparent().getparent() if th.getparent() is not None else None
    return "/Column" if group is not None and group.tag == "thead" else "/Row"


_weasy_build_box_tree = weasy_tags._build_box_tree
if getattr(_weasy_build_box_tree, "__module__", "") != __name__:
    weasy_tags._build_box_tree = _build_box_tree


# --- the structure tree, mended ---------------------------------------------------------

def tag_for_pdfua(pdf: pikepdf.Pdf) -> None:
    """Mend the structure tree of a PDF WeasyPrint wrote with `pdf_tags=True` (see the
    module's docstring), in place."""
    root = pdf.Root.StructTreeRoot
    for document in _kids(root):
        _join_fragments(document)
    ids = []
    for table in _elements(root, "/Table"):
        ids += _table_headers(table, len(ids))
    for listing in _elements(root, "/L"):
        _pair_labels(listing)
    if ids:
        root.IDTree = pikepdf.Dictionary(Names=pikepdf.Array(
            [item for key, cell in sorted(ids, key=lambda pair: str(pair[0])) for item in (key, cell)]))
    _artifact_orphans(pdf, root)
    for element in _elements(root):
        if _PDF_KEY in element:
            del element[_PDF_KEY]
    if "/AF" in pdf.Root:
        seen, unique = set(), []
        for spec in pdf.Root.AF:
            if spec.objgen not in seen:
                seen.add(spec.objgen)
                unique.append(spec)
        pdf.Root.AF = pikepdf.Array(unique)


def _kids(element) -> list:
    kids = element.get("/K")
    if kids is None:
        return []
    return list(kids) if isinstance(kids, pikepdf.Array) else [kids]


def _is_element(kid) -> bool:
    return isinstance(kid, pikepdf.Dictionary) and "/S" in kid


def _elements(node, kind: str | None = None):
    """Every structure element under `node` (depth first, in order), or those of a kind."""
    stack = list(reversed(_kids(node)))
    while stack:
        kid = stack.pop()
        if _is_element(kid):
            if kind is None or kid.S == kind:
                yield kid
            stack.extend(reversed(_kids(kid)))


def _source(element) -> str | None:
    return str(element[_PDF_KEY]) if _PDF_KEY in element else None


def _page_of(element):
    return element.get("/Pg")


def _adopt(parent, kid):
    """`kid` moved under `parent`: its /P, and a bare MCID made a reference with its page."""
    if isinstance(kid, int):
        return pikepdf.Dictionary(Type=pikepdf.Name.MCR, Pg=parent.Pg, MCID=kid)
    if _is_element(kid):
        kid.P = parent
    return kid


def _join_fragments(element) -> None:
    """Fragments of one HTML element on consecutive pages (siblings, of the same kind and
    source, the later on a later page) become one element; a table's header or footer
    group seen before in the same table is dropped (its text becomes an artifact)."""
    kept = []
    seen_groups = set()
    for kid in _kids(element):
        if _is_element(kid) and element.get("/S") == "/Table" and kid.S in ("/THead", "/TFoot"):
            if _source(kid) in seen_groups:
                continue  # repeated on a later page
            seen_groups.add(_source(kid))
        last = kept[-1] if kept else None
        if (_is_element(kid) and _is_element(last) and kid.S == last.S and _source(kid) is not None
                and _source(kid) == _source(last) and _page_of(kid) != _page_of(last)):
            last.K = pikepdf.Array(_kids(last) + [_adopt(last, k) for k in _kids(kid)])
            continue
        kept.append(kid)
    if "/K" in element and isinstance(element.K, pikepdf.Array):
        element.K = pikepdf.Array(kept)
    for kid in kept:
        if _is_element(kid):
            _join_fragments(kid)


def _table_headers(table, start: int) -> list[tuple[pikepdf.String, pikepdf.Dictionary]]:
    """Give each header cell of `table` a unique id and a scope, and each data cell the
    ids of its row's and column's headers; return the (id, cell) pairs to register."""
    rows = []
    for kid in _kids(table):
        if _is_element(kid) and kid.S == "/TR":
            rows.append(kid)
        elif _is_element(kid) and kid.S in ("/THead", "/TBody", "/TFoot"):
            rows += [row for row in _kids(kid) if _is_element(row) and row.S == "/TR"]
    registered, column_headers = [], {}
    table_no = start
    for r, row in enumerate(rows):
        row_headers, column = [], 0
        cells = [cell for cell in _kids(row) if _is_element(cell) and cell.S in ("/TH", "/TD")]
        placed = []
        for cell in cells:
            span = int(cell.A.get("/ColSpan", 1)) if "/A" in cell else 1
            placed.append((cell, range(column, column + span)))
            column += span
        for cell, columns in placed:
            if cell.S == "/TH":
                key = pikepdf.String(f"th-{table_no}-{r}-{columns[0]}")
                cell.ID = key
                if "/A" not in cell:
                    cell.A = pikepdf.Dictionary(O=pikepdf.Name.Table)
                scope = cell.A.get("/Scope") or (pikepdf.Name.Column if r == 0 else pikepdf.Name.Row)
                cell.A.Scope = scope
                registered.append((key, cell))
                if scope in (pikepdf.Name.Row, pikepdf.Name.Both):
                    row_headers.append(key)
                if scope in (pikepdf.Name.Column, pikepdf.Name.Both):
                    for c in columns:
                        column_headers[c] = key
        for cell, columns in placed:
            if cell.S == "/TD":
                headers = row_headers + [column_headers[c] for c in columns if c in column_headers]
                cell.A.Headers = pikepdf.Array(headers)
    return registered


def _pair_labels(listing) -> None:
    """A `dl` (an L of `<div><dt><dd></div>` groups, or of dt and dd items): each group
    one list item of a label (the dt) and its body (the dd)."""
    items = []
    for kid in _kids(listing):
        if _is_element(kid) and kid.S in ("/Div", "/NonStruct"):
            items += [k for k in _kids(kid) if _is_element(k)]  # a list's children are items
        else:
            items.append(kid)
    paired = []
    for item in items:
        body = _kids(item)[0] if _is_element(item) and item.S == "/LI" and len(_kids(item)) == 1 else None
        tag = (_source(body) or "").split(":")[0] if _is_element(body) else ""
        if tag == "dt":
            body.S = pikepdf.Name.Lbl
            item.P = listing
            paired.append(item)
        elif tag == "dd" and paired and _is_element(paired[-1]) and paired[-1].S == "/LI":
            paired[-1].K = pikepdf.Array(_kids(paired[-1]) + [_adopt(paired[-1], body)])
        else:
            if _is_element(item):
                item.P = listing
            paired.append(item)
    listing.K = pikepdf.Array(paired)
    listing.A = pikepdf.Dictionary(O=pikepdf.Name.List, ListNumbering=pikepdf.Name("/None"))


def _artifact_orphans(pdf: pikepdf.Pdf, root) -> None:
    """Marked content whose structure element is not in the tree (page margin boxes, a
    table header repeated on a later page) becomes an artifact; the parent tree forgets it."""
    in_tree = {element.objgen for element in _elements(root)}
    nums = root.ParentTree.Nums
    for i in range(0, len(nums), 2):
        page_index, mapped = int(nums[i]), nums[i + 1]
        if not isinstance(mapped, pikepdf.Array) or page_index >= len(pdf.pages):
            continue
        orphans = {mcid for mcid, element in enumerate(mapped)
                   if isinstance(element, pikepdf.Dictionary) and element.objgen not in in_tree}
        if not orphans:
            continue
        for mcid in orphans:
            mapped[mcid] = None
        page = pdf.pages[page_index]
        page.contents_coalesce()
        data = page.obj.Contents.read_bytes()
        data = re.sub(rb"/\w+\s*<<\s*/MCID (\d+)\s*>>\s*BDC",
                      lambda m: _ARTIFACT if int(m.group(1)) in orphans else m.group(0), data)
        page.obj.Contents = pdf.make_stream(data)
