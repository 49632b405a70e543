"""The reports' shared pipe table."""

from rlfree.markdown_table import markdown_table


def test_header_rule_and_rows():
    assert markdown_table(["task", "s"], [["CartPole-v1", "0.36"], ["Acrobot-v1", "2.1"]]) == (
        "| task | s |\n|---|---|\n| CartPole-v1 | 0.36 |\n| Acrobot-v1 | 2.1 |")


def test_no_rows_is_the_header_alone():
    assert markdown_table(["a"], []) == "| a |\n|---|"
