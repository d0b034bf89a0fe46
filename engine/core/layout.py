"""Diagram interchange (pools, lanes, shapes, edges) for a BPMN document written as XML.

Deploy lays out a diagram that has none (engine/core/validation.py), so that hand-written XML
opens cleanly in the modeler; tools/bpmn_layout.py does the same to files on disk.

- every process of the file becomes a pool (participant) of one collaboration, in file order;
- lanes keep the order of the laneSet; every flow node is placed in its lane (nodes in no lane
  share a band at the bottom of the pool);
- columns come from the longest path from the start events (loops are back edges), rows
  stack the nodes of one lane and column; boundary events sit on their task's lower edge;
- sequence flows are orthogonal: forward flows leave right (gateways: top/bottom),
  back flows run along the top of the lane.

Any existing collaboration and diagram are replaced; the process elements are untouched.
"""

from __future__ import annotations

from collections import defaultdict

from lxml import etree

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
DC = "http://www.omg.org/spec/DD/20100524/DC"
DI = "http://www.omg.org/spec/DD/20100524/DI"
NS = {"bpmn": BPMN}

SIZES = {"task": (100, 80), "event": (36, 36), "gateway": (50, 50)}
TASKS = {"userTask", "scriptTask", "manualTask", "callActivity", "task", "subProcess"}
EVENTS = {"startEvent", "endEvent", "intermediateThrowEvent", "intermediateCatchEvent", "boundaryEvent"}
GATEWAYS = {"exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway"}

POOL_X = 100
POOL_LABEL = 30
LANE_LABEL = 30
COL_W = 160
ROW_H = 140
TOP_PAD = 30  # room above row 0 for back flows
FIRST_X = 70  # from the lane's left edge to the first column's centre
POOL_GAP = 50


def local(el: etree._Element) -> str:
    return etree.QName(el).localname


def kind(tag: str) -> str:
    if tag in TASKS:
        return "task"
    if tag in EVENTS:
        return "event"
    return "gateway"


class Layout:
    def __init__(self, process: etree._Element) -> None:
        self.process = process
        self.nodes: dict[str, etree._Element] = {}
        for el in process:
            if isinstance(el.tag, str) and local(el) in TASKS | EVENTS | GATEWAYS:
                self.nodes[el.get("id")] = el
        self.flows = [el for el in process if isinstance(el.tag, str) and local(el) == "sequenceFlow"]
        self.lanes: list[tuple[str | None, list[str]]] = []
        for lane in process.xpath("./bpmn:laneSet/bpmn:lane", namespaces=NS):
            refs = [(r.text or "").strip() for r in lane.xpath("./bpmn:flowNodeRef", namespaces=NS)]
            self.lanes.append((lane.get("id"), refs))
        self.lane_of: dict[str, int] = {}
        for i, (_lid, refs) in enumerate(self.lanes):
            for ref in refs:
                self.lane_of[ref] = i
        loose = [nid for nid in self.nodes if nid not in self.lane_of]
        if loose:  # nodes in no lane (or a process without lanes) share a band without a lane shape
            self.lanes.append((None, loose))
            for nid in loose:
                self.lane_of[nid] = len(self.lanes) - 1
        self.boundary_host = {
            nid: el.get("attachedToRef") for nid, el in self.nodes.items() if local(el) == "boundaryEvent"
        }
        self.out: dict[str, list[str]] = defaultdict(list)
        self.inc: dict[str, list[str]] = defaultdict(list)
        for f in self.flows:
            self.out[f.get("sourceRef")].append(f.get("targetRef"))
            self.inc[f.get("targetRef")].append(f.get("sourceRef"))

    # ---- columns ---------------------------------------------------------------------------

    def _succ(self, nid: str) -> list[str]:
        succ = list(self.out.get(nid, []))
        succ += [b for b, host in self.boundary_host.items() if host == nid]
        return succ

    def columns(self) -> None:
        starts = [nid for nid, el in self.nodes.items() if local(el) == "startEvent"]
        back: set[tuple[str, str]] = set()
        state: dict[str, int] = {}
        order: list[str] = []

        def dfs(n: str) -> None:
            state[n] = 1
            for m in self._succ(n):
                if state.get(m) == 1:
                    back.add((n, m))
                elif m not in state:
                    dfs(m)
            state[n] = 2
            order.append(n)

        for s in starts + list(self.nodes):
            if s not in state:
                dfs(s)
        self.back = back
        col: dict[str, int] = {}
        for n in reversed(order):  # a topological order of the graph without its back edges
            if n in self.boundary_host:
                col[n] = col[self.boundary_host[n]]
                continue
            preds = [p for p in self.inc.get(n, []) if (p, n) not in back]
            col[n] = max((col[p] + 1 for p in preds), default=0)
        self.col = col

    # ---- rows --------------------------------------------------------------------------------

    def rows(self) -> None:
        """Rows per lane and column; a forward flow spanning several columns gets a dummy
        point in each column it crosses, which reserves a row so that it runs clear of nodes."""
        self.dummies: dict[str, list[str]] = {}
        preds: dict[str, list[str]] = defaultdict(list)
        cells: dict[tuple[int, int], list[str]] = defaultdict(list)
        file_order = {nid: i for i, nid in enumerate(self.nodes)}
        for nid in self.nodes:
            if nid not in self.boundary_host:
                cells[(self.lane_of[nid], self.col[nid])].append(nid)
        for f in self.flows:
            s_, t = f.get("sourceRef"), f.get("targetRef")
            if (s_, t) in self.back or self.col[t] <= self.col[s_]:
                continue
            prev = s_
            chain = []
            lane = self.lane_of[self.boundary_host.get(s_, s_)]
            for c in range(self.col[s_] + 1, self.col[t]):
                d = f"{f.get('id')}#{c}"
                self.lane_of[d] = lane
                self.col[d] = c
                file_order[d] = len(file_order) + 10_000
                cells[(lane, c)].append(d)
                preds[d].append(prev)
                chain.append(d)
                prev = d
            self.dummies[f.get("id")] = chain
            preds[t].append(prev)
        row: dict[str, int] = {}
        for key in sorted(cells, key=lambda k: k[1]):
            lane = key[0]

            def wanted(n: str, lane: int = lane) -> float:
                vals = []
                for p in preds.get(n, []):
                    if p in self.boundary_host:  # below the task the boundary event sits on
                        host = self.boundary_host[p]
                        if self.lane_of[host] == lane and host in row:
                            vals.append(row[host] + 1)
                    elif self.lane_of.get(p) == lane and p in row:
                        vals.append(row[p])
                return sum(vals) / len(vals) if vals else 0.0

            members = sorted(cells[key], key=lambda n: ("#" in n, wanted(n), file_order[n]))
            used: set[int] = set()
            for n in members:
                r = max(0, int(wanted(n) + 0.5))
                while r in used:
                    r += 1
                used.add(r)
                row[n] = r
        for b, host in self.boundary_host.items():
            row[b] = row[host]
        self.row = row
        self.lane_rows = [1] * len(self.lanes)
        for n, r in row.items():
            self.lane_rows[self.lane_of[n]] = max(self.lane_rows[self.lane_of[n]], r + 1)

    # ---- geometry ------------------------------------------------------------------------------

    def place(self, top: float) -> float:
        self.columns()
        self.rows()
        self.top = top
        ncols = max(self.col.values()) + 1 if self.col else 1
        self.lane_x = POOL_X + POOL_LABEL
        self.width = POOL_LABEL + LANE_LABEL + FIRST_X + (ncols - 1) * COL_W + 100
        self.lane_y = []
        y = top
        for i in range(len(self.lanes)):
            h = TOP_PAD + self.lane_rows[i] * ROW_H
            self.lane_y.append((y, h))
            y += h
        self.height = y - top
        self.bounds: dict[str, tuple[float, float, float, float]] = {}
        for nid, el in self.nodes.items():
            w, h = SIZES[kind(local(el))]
            if nid in self.boundary_host:
                continue
            cx = self.lane_x + LANE_LABEL + FIRST_X + self.col[nid] * COL_W
            ly, _lh = self.lane_y[self.lane_of[nid]]
            cy = ly + TOP_PAD + ROW_H / 2 + self.row[nid] * ROW_H
            self.bounds[nid] = (cx - w / 2, cy - h / 2, w, h)
        for chain in self.dummies.values():
            for d in chain:
                cx = self.lane_x + LANE_LABEL + FIRST_X + self.col[d] * COL_W
                ly, _lh = self.lane_y[self.lane_of[d]]
                self.bounds[d] = (cx, ly + TOP_PAD + ROW_H / 2 + self.row[d] * ROW_H, 0, 0)
        per_host: dict[str, list[str]] = defaultdict(list)
        for b, host in self.boundary_host.items():
            per_host[host].append(b)
        for host, bs in per_host.items():
            hx, hy, hw, hh = self.bounds[host]
            for i, b in enumerate(sorted(bs)):  # right of the multi-instance / loop marker
                bx = hx + hw - 22 - i * 40
                self.bounds[b] = (bx - 18, hy + hh - 18, 36, 36)
        return y

    def center(self, nid: str) -> tuple[float, float]:
        x, y, w, h = self.bounds[nid]
        return x + w / 2, y + h / 2

    def edge(self, flow: etree._Element) -> list[tuple[float, float]]:
        s, t = flow.get("sourceRef"), flow.get("targetRef")
        sx, sy, sw, sh = self.bounds[s]
        tx, ty, _tw, th = self.bounds[t]
        scx, scy = self.center(s)
        tcx, tcy = self.center(t)
        sk, tk = kind(local(self.nodes[s])), kind(local(self.nodes[t]))
        if (s, t) in self.back or tcx <= scx:
            same_lane = self.lane_of[s] == self.lane_of[t]
            lane_top = min(self.lane_y[self.lane_of[s]][0], self.lane_y[self.lane_of[t]][0])
            y_route = lane_top + TOP_PAD / 2 + (min(self.row[s], self.row[t]) * ROW_H if same_lane else 0)
            if y_route < sy:  # leave to the right, climb in the gap between columns
                gap_x = sx + sw + (COL_W - sw) / 3 if sk == "task" else scx + COL_W / 2 - 20
                start = (sx + sw, scy)
                return [start, (gap_x, scy), (gap_x, y_route), (tcx, y_route), (tcx, ty)]
            return [(scx, sy), (scx, y_route), (tcx, y_route), (tcx, ty)]
        mids = [self.center(d) for d in self.dummies.get(flow.get("id"), [])]
        first_y = mids[0][1] if mids else tcy
        pts: list[tuple[float, float]] = []
        if s in self.boundary_host:
            pts += [(scx, sy + sh), (scx, first_y)]
        elif abs(first_y - scy) < 1:
            pts.append((sx + sw, scy))
        elif sk == "gateway":
            pts += [(scx, sy + sh) if first_y > scy else (scx, sy), (scx, first_y)]
        else:
            pts.append((sx + sw, scy))
        for mx, my in mids:
            _px, py = pts[-1]
            if abs(py - my) >= 1:
                elbow = mx - COL_W / 2
                pts += [(elbow, py), (elbow, my)]
            pts.append((mx, my))
        _px, py = pts[-1]
        if abs(py - tcy) < 1:
            pts.append((tx, tcy))
        elif tk == "gateway":
            pts += [(tcx, py), (tcx, ty) if py < tcy else (tcx, ty + th)]
        else:
            elbow = tx - 30
            pts += [(elbow, py), (elbow, tcy), (tx, tcy)]
        # drop repeated and collinear points
        clean: list[tuple[float, float]] = []
        for p in pts:
            if clean and abs(clean[-1][0] - p[0]) < 0.5 and abs(clean[-1][1] - p[1]) < 0.5:
                continue
            if len(clean) >= 2:
                (ax, ay), (bx, by) = clean[-2], clean[-1]
                if (abs(ax - bx) < 0.5 and abs(bx - p[0]) < 0.5) or (abs(ay - by) < 0.5 and abs(by - p[1]) < 0.5):
                    clean[-1] = p
                    continue
            clean.append(p)
        return clean


def label_bounds(x: float, y: float, text: str, width: float = 90) -> tuple[float, float, float, float]:
    lines = max(1, -(-len(text) * 12 // int(width)))
    return (x, y, width, 14 * lines)


def sub(parent: etree._Element, ns: str, tag: str, **attrs: str) -> etree._Element:
    el = etree.SubElement(parent, f"{{{ns}}}{tag}")
    for k, v in attrs.items():
        el.set(k, v)
    return el


def bounds(parent: etree._Element, x: float, y: float, w: float, h: float) -> None:
    sub(parent, DC, "Bounds", x=f"{x:g}", y=f"{y:g}", width=f"{w:g}", height=f"{h:g}")


def has_layout(root: etree._Element) -> bool:
    """Whether the document carries diagram interchange (at least one shape)."""
    return bool(root.findall(f".//{{{BPMNDI}}}BPMNShape"))


def layout(root: etree._Element) -> None:
    """Replace the collaboration and diagram of `root` (bpmn:definitions) with a computed layout."""
    for old in root.xpath("./bpmn:collaboration", namespaces=NS) + root.findall(f"{{{BPMNDI}}}BPMNDiagram"):
        root.remove(old)
    processes = root.xpath("./bpmn:process", namespaces=NS)
    if not processes:
        return
    defs_id = root.get("id") or "Definitions"
    collab = etree.Element(f"{{{BPMN}}}collaboration")
    collab.set("id", f"Collab_{processes[0].get('id')}")
    processes[0].addprevious(collab)
    diagram = sub(root, BPMNDI, "BPMNDiagram", id=f"Diagram_{defs_id}")
    plane = sub(diagram, BPMNDI, "BPMNPlane", id=f"Plane_{defs_id}", bpmnElement=collab.get("id") or "")
    top = 80.0
    for proc in processes:
        top = _pool(proc, collab, plane, top) + POOL_GAP


def _pool(proc: etree._Element, collab: etree._Element, plane: etree._Element, top: float) -> float:
    pid = proc.get("id") or ""
    part = sub(collab, BPMN, "participant", id=f"P_{pid}", name=proc.get("name") or pid, processRef=pid)
    lay = Layout(proc)
    bottom = lay.place(top)
    shape = sub(
        plane, BPMNDI, "BPMNShape", id=f"{part.get('id')}_di", bpmnElement=part.get("id") or "", isHorizontal="true"
    )
    bounds(shape, POOL_X, top, lay.width, lay.height)
    for i, (lid, _refs) in enumerate(lay.lanes):
        if lid is None:
            continue
        ly, lh = lay.lane_y[i]
        shape = sub(plane, BPMNDI, "BPMNShape", id=f"{lid}_di", bpmnElement=lid, isHorizontal="true")
        bounds(shape, lay.lane_x, ly, lay.width - POOL_LABEL, lh)
    used: dict[str, set[str]] = defaultdict(set)  # which sides of a node the flows touch
    for flow in lay.flows:
        points = lay.edge(flow)
        for nid, (_px, py) in ((flow.get("sourceRef"), points[0]), (flow.get("targetRef"), points[-1])):
            _bx, by, _bw, bh = lay.bounds[nid]
            if abs(py - (by + bh)) < 1:
                used[nid].add("bottom")
            elif abs(py - by) < 1:
                used[nid].add("top")
    for nid, el in lay.nodes.items():
        _node_shape(plane, lay, nid, el, used[nid])
    for flow in lay.flows:
        edge = sub(plane, BPMNDI, "BPMNEdge", id=f"{flow.get('id')}_di", bpmnElement=flow.get("id") or "")
        points = lay.edge(flow)
        for px, py in points:
            sub(edge, DI, "waypoint", x=f"{px:g}", y=f"{py:g}")
        if flow.get("name"):
            (x1, y1), (x2, y2) = points[0], points[1]
            if abs(x1 - x2) < 1:  # vertical first segment: label beside it
                lx, ly = x1 + 4, (y1 + y2) / 2 - 7
            else:
                lx, ly = (x1 + x2) / 2 - 20, y1 - 18
            label = sub(edge, BPMNDI, "BPMNLabel")
            bounds(label, *label_bounds(lx, ly, flow.get("name") or "", 70))
    return bottom


def _node_shape(plane: etree._Element, lay: Layout, nid: str, el: etree._Element, used: set[str]) -> None:
    x, y, w, h = lay.bounds[nid]
    attrs = {"id": f"{nid}_di", "bpmnElement": nid}
    if local(el) == "exclusiveGateway":
        attrs["isMarkerVisible"] = "true"
    shape = sub(plane, BPMNDI, "BPMNShape", **attrs)
    bounds(shape, x, y, w, h)
    name = el.get("name") or ""
    if kind(local(el)) != "task" and name:
        label = sub(shape, BPMNDI, "BPMNLabel")
        lx, ly, lw, lh = label_bounds(x + w / 2 - 45, y + h + 4, name)
        if local(el) == "boundaryEvent":
            lx, ly, lw, lh = label_bounds(x + w + 2, y + h - 4, name, 80)
        elif "bottom" in used and "top" not in used:
            ly = y - 4 - lh
        elif "bottom" in used:
            lx, ly = x + w + 2, y - lh
        bounds(label, lx, ly, lw, lh)


def to_text(root: etree._Element) -> str:
    """The document as indented XML text with a double-quoted declaration."""
    tree = root.getroottree()
    etree.indent(tree, space="  ")
    text = etree.tostring(tree, xml_declaration=True, encoding="UTF-8", pretty_print=True).decode()
    return text.replace("<?xml version='1.0' encoding='UTF-8'?>", '<?xml version="1.0" encoding="UTF-8"?>')


def laid_out(root: etree._Element) -> str:
    """`root` laid out, as text (the tree is changed in place)."""
    layout(root)
    return to_text(root)
