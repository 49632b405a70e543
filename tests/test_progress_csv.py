"""progress.csv across a resume by a newer rlfree that records more columns."""

import csv

from rlfree.board import truncate_csv


def test_a_resume_that_records_more_columns_rewrites_the_header_and_keeps_the_old_rows(tmp_path):
    path = tmp_path / "progress.csv"
    path.write_text("generation,pop_mean\n1,0.5\n2,0.75\n3,1.0\n")  # written by an older rlfree
    fields = ["generation", "pop_mean", "bytes_sent"]  # what the newer one records

    truncate_csv(path, 2, fields)
    with open(path, "a", newline="") as f:
        csv.DictWriter(f, fieldnames=fields).writerow({"generation": 3, "pop_mean": 2.0, "bytes_sent": 10})

    rows = list(csv.DictReader(open(path, newline="")))
    assert [row["generation"] for row in rows] == ["1", "2", "3"]  # generation 3 of the old run is replaced
    assert rows[0] == {"generation": "1", "pop_mean": "0.5", "bytes_sent": ""}
    assert rows[2] == {"generation": "3", "pop_mean": "2.0", "bytes_sent": "10"}  # lines up with the header
