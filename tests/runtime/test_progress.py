"""The progress bar redraws in place on a terminal and prints only summaries elsewhere."""

import io

from runtime.progress import Bar


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_pipe_gets_one_summary_line_per_epoch():
    out = io.StringIO()
    bar = Bar(out, "epoch 1/2", 3)
    for _ in range(3):
        bar.update("loss 0.5")
    bar.close("epoch 1: done")
    assert out.getvalue() == "epoch 1: done\n"


def test_a_terminal_sees_the_bar_redrawn_then_replaced_by_the_summary():
    out = Terminal()
    bar = Bar(out, "epoch 1/2", 4, done=2)  # resumed half way through
    bar.update("loss 0.5")
    bar.update("loss 0.4")
    bar.close("epoch 1: done")
    text = out.getvalue()
    assert "\r\x1b[Kepoch 1/2 [" in text and "4/4  loss 0.4" in text
    assert text.endswith("\r\x1b[Kepoch 1: done\n")
