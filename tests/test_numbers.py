"""Every number and target format in DOMAIN.md parses to the value it means."""
import pytest

from extractor.kpi.numbers import parse_amount, parse_number, parse_target


@pytest.mark.parametrize("text,unit,value,yuan", [
    ("1,021.29", "万元", 1021.29, 10212900.0),
    ("206.52", "万元", 206.52, 2065200.0),
    ("300,000", "元", 300000.0, 300000.0),
    ("0", "万元", 0.0, 0.0),
    ("0.00", "万元", 0.0, 0.0),
    ("300,000元", None, 300000.0, 300000.0),
    ("30万元", None, 30.0, 300000.0),
    ("１，０２１．２９", "万元", 1021.29, 10212900.0),  # full-width digits and punctuation
])
def test_amounts(text, unit, value, yuan):
    a = parse_amount(text, unit)
    assert a.value == pytest.approx(value) and a.yuan == pytest.approx(yuan) and not a.issues


def test_percent_empty_and_not_a_number():
    p = parse_amount("39.23%")
    assert p.value == pytest.approx(39.23) and p.unit == "%" and p.yuan is None
    assert parse_amount("", "万元").value is None
    assert parse_amount("—", "万元").value is None
    assert parse_amount("一般公共服务支出", "万元").value is None


def test_separator_read_as_decimal_point_is_repaired_and_reported():
    v, issues = parse_number("1.021.29")
    assert v == pytest.approx(1021.29) and issues
    v, issues = parse_number("1.234.567.89")
    assert v == pytest.approx(1234567.89) and issues
    v, issues = parse_number("10,21.29")
    assert v == pytest.approx(1021.29) and "out of place" in issues[0]
    assert parse_number("1,O21.29")[0] == pytest.approx(1021.29)


@pytest.mark.parametrize("text,cmp_,value,unit", [
    ("≥98%", "≥", 98, "%"), ("≤20次", "≤", 20, "次"), ("24个", None, 24, "个"), ("≥500篇", "≥", 500, "篇"),
    ("≤30min", "≤", 30, "min"), ("100%", None, 100, "%"), (">=95%", "≥", 95, "%"), ("＞90%", ">", 90, "%"),
])
def test_numeric_targets(text, cmp_, value, unit):
    t = parse_target(text)
    assert (t.kind, t.comparator, t.value, t.unit) == ("numeric", cmp_, value, unit)


def test_money_targets_in_yuan():
    assert parse_target("30万元").value_yuan == 300000
    assert parse_target("1000000元").value_yuan == 1000000
    assert parse_target("3.4万元").value_yuan == 34000


def test_dates_periods_and_words():
    d = parse_target("2024年12月")
    assert (d.kind, d.date_from, d.date_to) == ("date", "2024-12", "2024-12")
    p = parse_target("2024年8月至10月")
    assert (p.kind, p.date_from, p.date_to) == ("period", "2024-08", "2024-10")
    p2 = parse_target("2023年11月-2024年2月")
    assert (p2.kind, p2.date_from, p2.date_to) == ("period", "2023-11", "2024-02")
    for w in ("及时", "提升", "有效保障", "可持续", "合规"):
        q = parse_target(w)
        assert q.kind == "qualitative" and q.text == w and q.value is None
    assert parse_target("").kind == "empty"
