"""The Convolution page in a real browser: play the animation, step with the page's control, read the value."""
import re

from playwright.sync_api import expect

from engine import conv
from engine.conv import examples as conv_examples
from engine.conv import figures as conv_figures
from tests.browser.helpers import assert_no_exception, open_app, screenshot, wait_idle


def test_play_then_step_shows_the_output_value(app_server, page):
    open_app(page, f"{app_server}/Convolution")
    assert_no_exception(page)
    chart = page.locator(".stPlotlyChart").first
    expect(chart).to_contain_text("Input")
    expect(chart).to_contain_text("Output")
    current = chart.locator("text.slider-label").filter(has_text="Step ")
    expect(current).to_have_text(re.compile(r"Step 1 of 25"))

    chart.get_by_text("Play").click()  # Plotly's own button: the frames run in the browser
    expect(current).not_to_have_text(re.compile(r"Step 1 of 25"), timeout=10_000)
    chart.get_by_text("Pause").click()

    page.locator(".st-key-conv_next button").click()
    wait_idle(page)
    # The page's default: random integers (seed 0) on a 7×7 grid, the vertical-edge kernel, no padding.
    trace = conv.conv2d(conv_examples.random_grid((7, 7), seed=0), conv_examples.kernel("vertical edge"))
    value = conv_figures.fmt(trace.output[0, 1])
    equation = page.locator(".st-key-conv_equation")
    expect(equation).to_contain_text("out[0, 1] = ")
    expect(equation).to_contain_text(f"= {value}")
    expect(chart.locator("text.slider-label").filter(has_text="Step ")).to_have_text(re.compile(r"Step 2 of 25"))
    assert_no_exception(page)
    screenshot(page, "convolution")
