// The gategraph player: replays the steps kept in #gategraph-steps on the picture in
// #gategraph-picture. Nothing is fetched: the page is complete as written.
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";
  var steps = JSON.parse(document.getElementById("gategraph-steps").textContent);
  var picture = JSON.parse(document.getElementById("gategraph-picture").textContent);
  var root = document.querySelector(".gg-player");
  var svg = root.querySelector(".gg-graph");
  var panel = root.querySelector("[data-panel]");
  var counter = root.querySelector("[data-counter]");
  var phase = root.querySelector("[data-phase]");
  var R = 24;
  var byName = {};
  picture.nodes.forEach(function (n) {
    byName[n.name] = n;
    // n.symbol comes from the page's picture: graph.drawing.SYMBOLS, the one table of symbols
    // half the width the node is drawn with: a circle, or an ellipse / box that fits its text
    n.half = n.kind === "gate" ? Math.max(R, 3.6 * n.symbol.length + 8) : Math.max(R, 4 * n.name.length + 6);
  });

  // where each node's forward step and each gate's backward step stand in the list
  var forwardAt = {}, backwardAt = {};
  steps.forEach(function (s, k) {
    if (s.kind === "forward") forwardAt[s.node] = k;
    if (s.kind === "backward") backwardAt[s.node] = k;
  });
  var firstBackward = steps.findIndex(function (s) { return s.kind === "backward"; });

  function el(name, attrs, text) {
    var e = document.createElementNS(SVG, name);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function html(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // --- the picture ---------------------------------------------------------------

  var out = byName[picture.output];
  var result = {x: out.x + 150, y: out.y};
  var width = 0, height = 0;
  picture.nodes.forEach(function (n) { width = Math.max(width, n.x); height = Math.max(height, n.y); });
  width = Math.max(width, result.x) + 90;
  height += 70;
  svg.setAttribute("viewBox", "0 0 " + width + " " + height);
  svg.setAttribute("width", width);
  svg.setAttribute("height", height);
  var defs = el("defs");
  var marker = el("marker", {id: "gg-arrow", viewBox: "0 0 10 10", refX: "10", refY: "5",
                             markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse"});
  marker.appendChild(el("path", {d: "M 0 0 L 10 5 L 0 10 z", fill: "#777"}));
  defs.appendChild(marker);
  svg.appendChild(defs);

  function edge(key, x1, y1, x2, y2) {
    var g = el("g", {"class": "gg-edge", "data-edge": key});
    var mx = (x1 + x2) / 2;
    g.appendChild(el("path", {d: "M " + x1 + " " + y1 + " C " + mx + " " + y1 + ", " + mx + " " + y2 + ", " + x2 + " " + y2,
                              "marker-end": "url(#gg-arrow)"}));
    // labels halfway along an edge to the next layer, where edges converging on one gate
    // are furthest apart; three quarters along a longer edge, where edges leaving one node
    // for several gates have parted
    var t = x2 - x1 > 250 ? 0.75 : 0.5, u = 1 - t;
    var lx = u * u * u * x1 + 3 * u * u * t * mx + 3 * u * t * t * mx + t * t * t * x2;
    var ly = u * u * u * y1 + 3 * u * u * t * y1 + 3 * u * t * t * y2 + t * t * t * y2;
    g.value = el("text", {x: lx, y: ly - 6, "class": "gg-value", "data-value": ""});
    g.grad = el("text", {x: lx, y: ly + 14, "class": "gg-grad", "data-grad": ""});
    g.appendChild(g.value);
    g.appendChild(g.grad);
    svg.appendChild(g);
    return g;
  }

  var edges = picture.edges.map(function (e) {
    var a = byName[e.from], b = byName[e.to];
    var g = edge(e.from + "->" + e.to + "#" + e.index, a.x + a.half, a.y, b.x - b.half, b.y);
    g.info = e;
    return g;
  });
  var resultEdge = edge(picture.output + "->result", out.x + out.half, out.y, result.x - 8, result.y);
  svg.appendChild(el("text", {x: result.x, y: result.y + 4, "class": "gg-result"}, "L"));

  var nodes = {};
  picture.nodes.forEach(function (n) {
    var g = el("g", {"class": "gg-node", "data-node": n.name, "data-kind": n.kind,
                     transform: "translate(" + n.x + "," + n.y + ")"});
    if (n.kind === "gate") {
      g.appendChild(n.half > R ? el("ellipse", {rx: n.half, ry: R}) : el("circle", {r: R}));
      g.appendChild(el("text", {y: 4, "class": n.symbol.length > 4 ? "gg-symbol gg-small" : "gg-symbol"}, n.symbol));
    } else {
      g.appendChild(el("rect", {x: -n.half, y: -14, width: 2 * n.half, height: 28, rx: n.kind === "param" ? 8 : 2}));
    }
    g.appendChild(el("text", {y: n.kind === "gate" ? R + 14 : 4, "class": "gg-name"}, n.name));
    g.total = el("text", {y: n.kind === "gate" ? R + 28 : 28, "class": "gg-total", "data-total": ""});
    g.appendChild(g.total);
    svg.appendChild(g);
    nodes[n.name] = g;
  });

  // --- one step ----------------------------------------------------------------------

  function valueKnown(name, k) {
    var n = byName[name];
    return n.kind !== "gate" || (forwardAt[name] !== undefined && forwardAt[name] <= k);
  }

  function valueText(name) {
    var n = byName[name];
    if (n.kind !== "gate") return n.text;
    return steps[forwardAt[name]].text;
  }

  function show(k) {
    var s = steps[k];
    var gradOf = {}, totals = {};
    for (var j = 0; j <= k; j++) {
      if (steps[j].kind === "backward") {
        steps[j].downstream.forEach(function (d) { gradOf[d.to + "->" + steps[j].node + "#" + d.index] = d.text; });
      } else if (steps[j].kind === "sum") {
        totals[steps[j].node] = steps[j].text;
      }
    }
    edges.forEach(function (g) {
      var key = g.getAttribute("data-edge");
      g.value.textContent = valueKnown(g.info.from, k) ? valueText(g.info.from) : "";
      g.grad.textContent = gradOf[key] || "";
      var lit = (s.node === g.info.to && (s.kind === "forward" || s.kind === "backward")) ||
                (s.kind === "sum" && s.node === g.info.from);
      g.classList.toggle("gg-lit", lit);
    });
    resultEdge.value.textContent = valueKnown(picture.output, k) ? valueText(picture.output) : "";
    resultEdge.grad.textContent = firstBackward >= 0 && k >= firstBackward ? picture.result.grad_text : "";
    Object.keys(nodes).forEach(function (name) {
      var g = nodes[name];
      if (name === s.node) g.setAttribute("data-current", "true"); else g.removeAttribute("data-current");
      g.classList.toggle("gg-done", valueKnown(name, k));
      g.total.textContent = totals[name] ? "\u03a3 " + totals[name] : "";
    });
    var scroll = svg.parentNode, at = byName[s.node];      // keep the lit node in view
    if (at && (at.x < scroll.scrollLeft + 40 || at.x > scroll.scrollLeft + scroll.clientWidth - 80)) {
      scroll.scrollLeft = Math.max(0, at.x - scroll.clientWidth / 2);
    }
    counter.textContent = "step " + (k + 1) + " / " + steps.length;
    phase.textContent = s.kind === "forward" ? "forward pass" : (s.kind === "sum" ? "backward: a sum at a branch" : "backward pass");
    root.setAttribute("data-step", k);
    panel.setAttribute("data-step-kind", s.kind);
    panel.setAttribute("data-step-node", s.node);
    describe(s);
  }

  // --- the panel: what this step computes ------------------------------------------------

  function number(v) {
    if (typeof v === "string") return v;
    var t = Math.abs(v) >= 1e5 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(3) : v.toPrecision(4);
    return String(parseFloat(t));
  }

  function heat(value) {
    var rows = value.heat.length, cols = value.heat[0] ? value.heat[0].length : 0;
    var cell = Math.max(8, Math.min(18, Math.floor(160 / Math.max(rows, cols, 1))));
    var m = 0;
    value.heat.forEach(function (r) { r.forEach(function (v) { if (typeof v === "number") m = Math.max(m, Math.abs(v)); }); });
    var s = el("svg", {width: cols * cell, height: rows * cell, "class": "gg-heat"});
    value.heat.forEach(function (r, i) {
      r.forEach(function (v, j) {
        var t = typeof v === "number" && m > 0 ? v / m : 0;
        var colour = t >= 0 ? "rgb(255," + Math.round(255 * (1 - t)) + "," + Math.round(255 * (1 - t)) + ")"
                            : "rgb(" + Math.round(255 * (1 + t)) + "," + Math.round(255 * (1 + t)) + ",255)";
        var rect = el("rect", {x: j * cell, y: i * cell, width: cell, height: cell, fill: colour});
        rect.appendChild(el("title", {}, number(v)));
        s.appendChild(rect);
      });
    });
    return s;
  }

  function valueBlock(label, value, cls) {
    var box = html("div", "gg-value-block " + (cls || ""));
    box.appendChild(html("span", "gg-label", label));
    if (!value) { box.appendChild(html("span", "", "-")); return box; }
    if (value.scalar !== undefined) {
      var v = html("span", "gg-number", number(value.scalar));
      v.setAttribute("data-number", value.scalar);
      box.appendChild(v);
      return box;
    }
    box.appendChild(html("span", "gg-shape", "shape (" + value.shape.join(", ") + ")  |.| = " + number(value.norm)));
    box.appendChild(html("div", "gg-first", "[" + value.first.map(number).join(", ") +
                         (value.shape.reduce(function (a, b) { return a * b; }, 1) > value.first.length ? ", \u2026]" : "]")));
    box.appendChild(heat(value));
    return box;
  }

  function describe(s) {
    panel.textContent = "";
    var gate = s.gate ? " (" + s.gate + ")" : "";
    panel.appendChild(html("h3", "", s.node + gate));
    if (s.kind === "forward") {
      panel.appendChild(html("p", "gg-explain", "Forward: the gate reads its inputs and its output appears on its out-edge."));
      s.inputs.forEach(function (i) { panel.appendChild(valueBlock(i.name + " =", i.value)); });
      panel.appendChild(valueBlock(s.node + " =", s.output, "gg-out"));
    } else if (s.kind === "backward") {
      panel.appendChild(html("p", "gg-explain", "Backward: downstream = local \u00d7 upstream."));
      panel.appendChild(valueBlock("upstream dL/d" + s.node + " =", s.upstream, "gg-up"));
      panel.appendChild(html("p", "gg-rule", "local: " + s.rule));
      s.downstream.forEach(function (d) { panel.appendChild(valueBlock("downstream dL/d" + d.to + " =", d.grad, "gg-down")); });
      if (s.check) {
        var c = html("p", s.check.passed ? "gg-check gg-pass" : "gg-check gg-fail",
                     (s.check.passed ? "\u2714 numerical check: " : "\u2718 numerical check failed: ") + s.check.message);
        c.setAttribute("data-check", s.check.passed ? "passed" : "failed");
        panel.appendChild(c);
      }
    } else {
      panel.appendChild(html("p", "gg-explain", s.node + " feeds " + s.parts.length +
                             " gates: its gradient is the sum of what each sent back (the branch rule)."));
      s.parts.forEach(function (p) { panel.appendChild(valueBlock("from " + p.from + ":", p.grad)); });
      panel.appendChild(valueBlock("dL/d" + s.node + " = sum =", s.total, "gg-sum"));
    }
  }

  // --- controls ----------------------------------------------------------------------

  var current = 0, timer = null;
  function go(k) {
    current = Math.max(0, Math.min(steps.length - 1, k));
    show(current);
  }
  function play() {
    if (timer) { clearInterval(timer); timer = null; root.classList.remove("gg-playing"); return; }
    if (current >= steps.length - 1) go(0);
    root.classList.add("gg-playing");
    timer = setInterval(function () {
      if (current >= steps.length - 1) { play(); return; }
      go(current + 1);
    }, 900);
  }
  var actions = {first: function () { go(0); }, prev: function () { go(current - 1); },
                 next: function () { go(current + 1); }, last: function () { go(steps.length - 1); }, play: play};
  root.querySelectorAll("[data-action]").forEach(function (b) {
    b.addEventListener("click", function () { actions[b.getAttribute("data-action")](); });
  });
  document.addEventListener("keydown", function (e) {
    var key = {ArrowRight: "next", ArrowLeft: "prev", Home: "first", End: "last", " ": "play"}[e.key];
    if (key) { e.preventDefault(); actions[key](); }
  });
  window.gategraphPlayer = {go: go, steps: steps, current: function () { return current; }};
  if (steps.length) go(0);
})();
