// The gategraph player: replays the steps kept in #gategraph-steps on the picture in
// #gategraph-picture. Nothing is fetched: the page is complete as written.
//
// Everything the page knows sits in one object, `state`; names are only ever keys of Maps
// (a node may be called "__proto__") and text of DOM nodes (textContent, never markup). What
// each step shows is worked out once, when the page loads, so a key press draws one step.
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";
  var R = 24;
  var root = document.querySelector(".gg-player");
  var state = {
    steps: JSON.parse(document.getElementById("gategraph-steps").textContent),
    picture: JSON.parse(document.getElementById("gategraph-picture").textContent),
    current: 0,
    timer: null,
    nodes: new Map(),      // name -> {info, g, total}: the picture's node and its drawn group
    edges: [],             // {info, key, g, value, grad}
    forwardAt: new Map(),  // name -> index of its forward step
    gradAt: new Map(),     // edge key -> [index of the backward step that sent its gradient, text]
    totalAt: new Map(),    // name -> [index of its sum step, text]
    firstBackward: -1
  };
  var svg = root.querySelector(".gg-graph");
  var scroller = svg.parentNode;
  var panel = root.querySelector("[data-panel]");
  var counter = root.querySelector("[data-counter]");
  var phase = root.querySelector("[data-phase]");

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

  function edgeKey(from, to, index) { return JSON.stringify([from, to, index]); }

  // --- what each step shows, worked out once ------------------------------------------

  state.steps.forEach(function (s, k) {
    if (s.kind === "forward") state.forwardAt.set(s.node, k);
    if (s.kind === "backward") {
      if (state.firstBackward < 0) state.firstBackward = k;
      s.downstream.forEach(function (d) { state.gradAt.set(edgeKey(d.to, s.node, d.index), [k, d.text]); });
    }
    if (s.kind === "sum") state.totalAt.set(s.node, [k, s.text]);
  });

  // --- the picture ---------------------------------------------------------------

  state.picture.nodes.forEach(function (n) {
    // half the width the node is drawn with: a circle, or an ellipse / box that fits its text
    var half = n.kind === "gate" ? Math.max(R, 3.6 * n.symbol.length + 8) : Math.max(R, 4 * n.name.length + 6);
    state.nodes.set(n.name, {info: n, half: half});
  });
  var width = 0, height = 0;
  state.picture.nodes.forEach(function (n) { width = Math.max(width, n.x); height = Math.max(height, n.y); });
  var out = state.nodes.get(state.picture.output);
  var result = out ? {x: out.info.x + 150, y: out.info.y} : {x: 0, y: 0};
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

  function drawEdge(key, x1, y1, x2, y2) {
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
    var drawn = {key: key, g: g, value: el("text", {x: lx, y: ly - 6, "class": "gg-value", "data-value": ""}),
                 grad: el("text", {x: lx, y: ly + 14, "class": "gg-grad", "data-grad": ""})};
    g.appendChild(drawn.value);
    g.appendChild(drawn.grad);
    svg.appendChild(g);
    return drawn;
  }

  state.picture.edges.forEach(function (e) {
    var a = state.nodes.get(e.from), b = state.nodes.get(e.to);
    var drawn = drawEdge(e.from + "->" + e.to + "#" + e.index, a.info.x + a.half, a.info.y, b.info.x - b.half, b.info.y);
    drawn.info = e;
    drawn.gradKey = edgeKey(e.from, e.to, e.index);
    state.edges.push(drawn);
  });
  var resultEdge = out ? drawEdge(state.picture.output + "->result", out.info.x + out.half, out.info.y,
                                  result.x - 8, result.y) : null;
  if (out) svg.appendChild(el("text", {x: result.x, y: result.y + 4, "class": "gg-result"}, "L"));

  state.nodes.forEach(function (node, name) {
    var n = node.info;
    var g = el("g", {"class": "gg-node", "data-node": name, "data-kind": n.kind,
                     transform: "translate(" + n.x + "," + n.y + ")"});
    if (n.kind === "gate") {
      g.appendChild(node.half > R ? el("ellipse", {rx: node.half, ry: R}) : el("circle", {r: R}));
      g.appendChild(el("text", {y: 4, "class": n.symbol.length > 4 ? "gg-symbol gg-small" : "gg-symbol"}, n.symbol));
    } else {
      g.appendChild(el("rect", {x: -node.half, y: -14, width: 2 * node.half, height: 28, rx: n.kind === "param" ? 8 : 2}));
    }
    g.appendChild(el("text", {y: n.kind === "gate" ? R + 14 : 4, "class": "gg-name"}, name));
    node.total = el("text", {y: n.kind === "gate" ? R + 28 : 28, "class": "gg-total", "data-total": ""});
    g.appendChild(node.total);
    svg.appendChild(g);
    node.g = g;
  });

  // --- one step ----------------------------------------------------------------------

  function valueKnown(name, k) {
    var node = state.nodes.get(name);
    return node.info.kind !== "gate" || (state.forwardAt.has(name) && state.forwardAt.get(name) <= k);
  }

  function valueText(name) {
    var node = state.nodes.get(name);
    return node.info.kind !== "gate" ? node.info.text : state.steps[state.forwardAt.get(name)].text;
  }

  function keepInView(s) {
    // the current node and the nodes it reads from, as far as the pane allows
    var names = [s.node].concat(s.kind === "forward" ? s.inputs.map(function (i) { return i.name; }) :
                                s.kind === "backward" ? s.downstream.map(function (d) { return d.to; }) : []);
    var xs = [], ys = [];
    names.forEach(function (name) {
      var node = state.nodes.get(name);
      if (node) { xs.push(node.info.x - node.half - 20, node.info.x + node.half + 60); ys.push(node.info.y - 40, node.info.y + 50); }
    });
    if (!xs.length) return;
    var left = Math.min.apply(null, xs), right = Math.max.apply(null, xs);
    var top = Math.min.apply(null, ys), bottom = Math.max.apply(null, ys);
    var here = state.nodes.get(s.node).info;
    if (left < scroller.scrollLeft || right > scroller.scrollLeft + scroller.clientWidth) {
      scroller.scrollLeft = Math.max(0, right - left <= scroller.clientWidth ? (left + right - scroller.clientWidth) / 2
                                                                              : here.x - scroller.clientWidth / 2);
    }
    if (top < scroller.scrollTop || bottom > scroller.scrollTop + scroller.clientHeight) {
      scroller.scrollTop = Math.max(0, bottom - top <= scroller.clientHeight ? (top + bottom - scroller.clientHeight) / 2
                                                                              : here.y - scroller.clientHeight / 2);
    }
  }

  function show(k) {
    var s = state.steps[k];
    state.edges.forEach(function (e) {
      var sent = state.gradAt.get(e.gradKey);
      e.value.textContent = valueKnown(e.info.from, k) ? valueText(e.info.from) : "";
      e.grad.textContent = sent && sent[0] <= k ? sent[1] : "";
      var lit = (s.node === e.info.to && (s.kind === "forward" || s.kind === "backward")) ||
                (s.kind === "sum" && s.node === e.info.from);
      e.g.classList.toggle("gg-lit", lit);
    });
    if (resultEdge) {
      resultEdge.value.textContent = valueKnown(state.picture.output, k) ? valueText(state.picture.output) : "";
      resultEdge.grad.textContent = state.firstBackward >= 0 && k >= state.firstBackward ? state.picture.result.grad_text : "";
    }
    state.nodes.forEach(function (node, name) {
      if (name === s.node) node.g.setAttribute("data-current", "true"); else node.g.removeAttribute("data-current");
      node.g.classList.toggle("gg-done", valueKnown(name, k));
      var total = state.totalAt.get(name);
      node.total.textContent = total && total[0] <= k ? "\u03a3 " + total[1] : "";
    });
    keepInView(s);
    counter.textContent = "step " + (k + 1) + " / " + state.steps.length;
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

  // --- controls: on the player itself, never the whole document -------------------------------

  function go(k) {
    if (!state.steps.length) return;
    state.current = Math.max(0, Math.min(state.steps.length - 1, k));
    show(state.current);
  }
  function play() {
    if (state.timer) { clearInterval(state.timer); state.timer = null; root.classList.remove("gg-playing"); return; }
    if (!state.steps.length) return;
    if (state.current >= state.steps.length - 1) go(0);
    root.classList.add("gg-playing");
    state.timer = setInterval(function () {
      if (state.current >= state.steps.length - 1) { play(); return; }
      go(state.current + 1);
    }, 900);
  }
  var actions = new Map([["first", function () { go(0); }], ["prev", function () { go(state.current - 1); }],
                         ["next", function () { go(state.current + 1); }],
                         ["last", function () { go(state.steps.length - 1); }], ["play", play]]);
  var keys = new Map([["ArrowRight", "next"], ["ArrowLeft", "prev"], ["Home", "first"], ["End", "last"], [" ", "play"]]);
  root.addEventListener("click", function (e) {
    var button = e.target.closest ? e.target.closest("[data-action]") : null;
    if (button && root.contains(button) && actions.has(button.getAttribute("data-action"))) {
      actions.get(button.getAttribute("data-action"))();
    }
  });
  root.addEventListener("keydown", function (e) {
    if (keys.has(e.key)) { e.preventDefault(); actions.get(keys.get(e.key))(); }
  });
  window.gategraphPlayer = {go: go, steps: state.steps, current: function () { return state.current; }};
  if (state.steps.length) {
    go(0);
  } else {
    counter.textContent = "no steps";
    panel.appendChild(html("p", "gg-explain", "This graph has no gate: there is nothing to step through."));
  }
  // a page of its own takes the keys at once; inside a notebook's frame, only once clicked
  if (window.self === window.top) root.focus();
})();
