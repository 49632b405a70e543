"""Text files replaced whole."""

from rlfree.atomic_text import write_text_atomically


def test_the_file_is_replaced_and_no_temporary_is_left(tmp_path):
    path = tmp_path / "zoo.md"
    path.write_text("old")
    write_text_atomically(path, "new\n")
    assert path.read_text() == "new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["zoo.md"]
