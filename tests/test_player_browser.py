"""The player in a real browser: Debian's Chromium driven by Playwright (no browser is downloaded).

Marked ``browser``: `python -m pytest -m "not browser"` leaves them out of a quick local run. Where
Chromium or Playwright is missing they are skipped with what to install, except in CI (the
``CI`` variable set), where they fail: CI must run them.
"""
import os
import pathlib
import shutil

import numpy as np
import pytest

from graph.training.networks import convnet, mlp

pytestmark = pytest.mark.browser

CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic"]
SCREENSHOTS = pathlib.Path(os.environ.get("GATEGRAPH_SCREENSHOTS", "")) if os.environ.get(
    "GATEGRAPH_SCREENSHOTS") else None


def _unavailable(reason):
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the browser tests: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright is not installed (pip install -e \".[dev]\" installs it)")
    executable = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        _unavailable("Chromium is not installed (apt-get install chromium); Playwright is pointed at it, "
                     "it never downloads a browser")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


class Page:
    """A saved player opened in Chromium, with every request and console error recorded."""

    def __init__(self, browser, graph, path, **options):
        self.player = graph.step_through(**options)
        self.player.save(path)
        self.page = browser.new_page(viewport={"width": 1280, "height": 720})
        self.requests, self.errors = [], []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.url = path.resolve().as_uri()
        self.page.goto(self.url)

    def current(self):
        return self.page.get_attribute('[data-current="true"]', "data-node")

    def counter(self):
        return self.page.inner_text("[data-counter]")

    def press(self, action):
        self.page.click(f'[data-action="{action}"]')

    def edge_text(self, key, kind):
        return self.page.text_content(f'[data-edge="{key}"] [data-{kind}]')

    def shot(self, name):
        if SCREENSHOTS is not None:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    def close(self):
        loaded = [u for u in self.requests if u != self.url and not u.startswith("data:")]
        assert loaded == [], f"the page requested {loaded}"
        assert self.errors == [], f"console errors: {self.errors}"
        self.page.close()




@pytest.mark.parametrize("layout", ["layered", "auto"])
def test_seed_graph_steps_forward_and_back_with_buttons_and_keys(browser, tmp_path, layout, seed_graph):
    g = seed_graph
    page = Page(browser, g, tmp_path / "seed.html", layout=layout)
    steps = page.player.steps
    assert page.current() == "q" and page.counter() == "step 1 / 4"
    assert page.edge_text("x->q#0", "value") == "-2" and page.edge_text("x->q#0", "grad") == ""
    assert page.edge_text("q->f#0", "value") == "3"
    page.press("next")
    assert page.current() == "f" and page.counter() == "step 2 / 4"
    page.page.keyboard.press("ArrowRight")                # the first backward step: f
    assert page.current() == "f" and page.counter() == "step 3 / 4"
    assert page.page.get_attribute("[data-panel]", "data-step-kind") == "backward"
    assert page.edge_text("q->f#0", "grad") == "-4" and page.edge_text("z->f#1", "grad") == "3"
    assert page.edge_text("x->q#0", "grad") == ""          # q has not run backward yet
    numbers = [float(n) for n in page.page.eval_on_selector_all("[data-panel] [data-number]",
                                                                 "els => els.map(e => e.dataset.number)")]
    assert numbers == [1.0, float(g.grad("q")), float(g.grad("z"))]   # upstream, then downstream q and z
    page.shot(f"seed-backward-{layout}")
    page.press("last")
    assert page.current() == "q" and page.counter() == f"step {len(steps)} / {len(steps)}"
    assert page.edge_text("x->q#0", "grad") == "-4" and page.edge_text("y->q#1", "grad") == "-4"
    page.page.keyboard.press("ArrowLeft")
    assert page.counter() == "step 3 / 4"
    page.page.keyboard.press("Home")
    assert page.counter() == "step 1 / 4"
    page.press("prev")                                     # stays at the first step
    assert page.counter() == "step 1 / 4"
    page.close()


def test_a_sum_step_shows_each_part_and_their_sum(browser, tmp_path, branch_graph):
    g = branch_graph
    page = Page(browser, g, tmp_path / "branch.html", check=True)
    page.page.keyboard.press("End")
    assert page.current() == "a" and page.page.get_attribute("[data-panel]", "data-step-kind") == "sum"
    numbers = [float(n) for n in page.page.eval_on_selector_all("[data-panel] [data-number]",
                                                                 "els => els.map(e => e.dataset.number)")]
    assert numbers == [8.0, 2.0, 6.0, 16.0] and g.grad("a") == 16.0
    assert page.page.text_content('[data-node="a"] [data-total]') == "\u03a3 16"
    page.shot("branch-sum")
    page.page.keyboard.press("ArrowLeft")                  # c's backward step, with its check
    assert page.current() == "c"
    assert page.page.get_attribute("[data-check]", "data-check") == "passed"
    page.close()


def test_an_mlp_with_checks_shows_shapes_heat_maps_and_passes(browser, tmp_path, rng):
    g = mlp((4, 5, 3), seed=0, l2=0.01)
    g.forward(x=rng.standard_normal((6, 4)), y=rng.integers(0, 3, 6))
    g.backward()
    page = Page(browser, g, tmp_path / "mlp.html", check=True)
    steps = page.player.steps
    for k in range(len(steps)):
        assert page.current() == steps[k]["node"], f"step {k + 1}"
        if steps[k]["kind"] == "backward":
            assert page.page.get_attribute("[data-check]", "data-check") == "passed"
        page.page.keyboard.press("ArrowRight")
    first_backward = next(k for k, s in enumerate(steps) if s["kind"] == "backward")
    page.page.evaluate(f"window.gategraphPlayer.go({first_backward + 2})")
    assert page.page.locator("[data-panel] .gg-heat").count() >= 1
    shape = g.value("affine1").shape
    assert page.edge_text("affine1->relu1#0", "value").startswith(str(shape))
    page.shot("mlp-backward")
    page.close()


def test_a_conv_net_plays_to_the_end(browser, tmp_path, rng):
    g = convnet(input_shape=(1, 8, 8), filters=3, hidden=6, classes=4, seed=0)
    g.forward(x=rng.standard_normal((2, 64)), y=np.array([0, 3]))
    g.backward()
    page = Page(browser, g, tmp_path / "conv.html", check=True)
    page.press("last")
    last = page.player.steps[-1]
    assert page.current() == last["node"]
    assert page.page.eval_on_selector_all('[data-check="failed"]', "els => els.length") == 0
    page.press("play")                  # at the last step, play starts over from the first
    first = f"step 1 / {len(page.player.steps)}"
    for _ in range(50):                 # polled from here: the page's policy forbids the eval
        if page.counter() != first:     # that wait_for_function needs
            break
        page.page.wait_for_timeout(100)
    assert page.counter() != first
    page.press("play")                  # pause
    paused_at = page.counter()
    page.page.wait_for_timeout(1200)    # longer than a step of play
    assert page.counter() == paused_at
    page.shot("conv")
    page.close()


@pytest.mark.parametrize("name", ["<!--<script>", "__proto__", "constructor", "</script><b>x", "a\u2028b"])
def test_any_node_name_shows_its_first_step_and_is_marked_current(browser, tmp_path, name):
    from graph import ComputationalGraph
    g = ComputationalGraph()
    x = g.input(name)
    g.add(__import__("gates").Tanh(), x, name=name + "'")
    g.add(__import__("gates").Exp(), name + "'", name=name + "!")
    g.forward(**{name: 0.5})
    g.backward()
    page = Page(browser, g, tmp_path / "names.html", check=True)
    assert page.current() == name + "'" and page.counter() == "step 1 / 4"
    page.press("next")
    assert page.current() == name + "!"
    page.page.keyboard.press("End")
    assert page.current() == name + "'" and page.page.get_attribute("[data-check]", "data-check") == "passed"
    page.close()


def test_a_graph_without_gates_shows_a_page_that_ignores_keys(browser, tmp_path):
    from graph import ComputationalGraph
    g = ComputationalGraph()
    g.set_output(g.input("x"))
    g.forward(x=2.0)
    g.backward()
    page = Page(browser, g, tmp_path / "empty.html")
    assert page.counter() == "no steps"
    for key in ("ArrowRight", "ArrowLeft", "End", "Home", " "):
        page.page.keyboard.press(key)
    page.press("next")
    page.press("play")
    page.close()


def test_keys_belong_to_the_player_not_to_the_page_around_it(browser, tmp_path, seed_graph):
    page = Page(browser, seed_graph, tmp_path / "keys.html")
    page.page.keyboard.press("ArrowRight")              # a page of its own has the player focused
    assert page.counter() == "step 2 / 4"
    page.page.evaluate("document.activeElement.blur(); document.body.focus()")
    page.page.keyboard.press("ArrowRight")              # focus elsewhere: the key is not the player's
    assert page.counter() == "step 2 / 4"
    page.page.click(".gg-graph")
    page.page.keyboard.press("ArrowRight")
    assert page.counter() == "step 3 / 4"
    page.close()


def test_the_current_node_and_its_inputs_are_scrolled_into_view(browser, tmp_path, rng):
    g = mlp((30, 20, 20, 20, 20, 10), seed=0)
    g.forward(x=rng.standard_normal((4, 30)), y=np.array([0, 1, 2, 3]))
    g.backward()
    page = Page(browser, g, tmp_path / "wide.html")
    page.page.set_viewport_size({"width": 700, "height": 500})
    backward = [k for k, s in enumerate(page.player.steps) if s["kind"] == "backward" and s["node"] == "affine1"][0]
    for _ in range(backward):
        page.page.keyboard.press("ArrowRight")
    assert page.current() == "affine1"
    pane = page.page.locator(".gg-scroll").bounding_box()
    for name in ("affine1", "x", "W1"):
        box = page.page.locator(f'[data-node="{name}"]').bounding_box()
        assert pane["x"] - 1 <= box["x"] and box["x"] + box["width"] <= pane["x"] + pane["width"] + 1, name
        assert pane["y"] - 1 <= box["y"] and box["y"] + box["height"] <= pane["y"] + pane["height"] + 1, name
    page.close()


def test_the_page_gategraph_show_writes_for_a_torch_model_steps_through(browser, tmp_path, torch):
    pytest.importorskip("onnxscript") if not os.environ.get("CI") else __import__("onnxscript")
    import logging
    import warnings

    from graph.cli import main

    class CharModel(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Embedding(10, 6)
            self.lstm = torch.nn.LSTM(6, 8, batch_first=True)
            self.out = torch.nn.Linear(8, 10)

        def forward(self, x):
            return self.out(self.lstm(self.embed(x))[0])

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.disable(logging.WARNING)
        try:
            torch.onnx.export(CharModel().eval(), (torch.randint(0, 10, (2, 4)),), str(tmp_path / "char.onnx"),
                              dynamo=True, verbose=False)
        finally:
            logging.disable(logging.NOTSET)
    assert main(["show", str(tmp_path / "char.onnx"), "--out", str(tmp_path / "char.html"), "--check"]) == 0
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto((tmp_path / "char.html").resolve().as_uri())
    total = int(page.inner_text("[data-counter]").split("/")[1])
    assert total > 40
    page.click('[data-action="last"]')
    assert page.inner_text("[data-counter]") == f"step {total} / {total}"
    assert page.eval_on_selector_all('[data-check="failed"]', "els => els.length") == 0
    page.click('[data-action="first"]')
    for _ in range(total - 1):
        page.keyboard.press("ArrowRight")
    assert page.inner_text("[data-counter]") == f"step {total} / {total}" and errors == []
    page.close()
