"""The customer's words (issue 24): every sentence of the page and of the messages to reporters is in the
`customer` catalogue, translated into Chinese, and the catalogue is what the templates and
crisisdesk/customer_page.py say now (a new sentence without its translation fails here)."""

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from crisisdesk import customer_page

ROOT = Path(__file__).resolve().parents[1]
LOCALE = ROOT / "crisisdesk" / "locale"


def extracted() -> set[str]:
    found = set()
    method_map = [("crisisdesk/templates/customer/**.html", "jinja2"), ("crisisdesk/customer_page.py", "python")]
    options = {"crisisdesk/templates/customer/**.html": {"extensions": "jinja2.ext.i18n"}}
    for _file, _line, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map=method_map, options_map=options,
            keywords={"_": None, "gettext": None, "_n": None}):
        found.add(message if isinstance(message, str) else message[0])
    return found


def catalogue(locale: str):
    with (LOCALE / locale / "LC_MESSAGES" / "customer.po").open("rb") as fp:
        return read_po(fp, locale=locale, domain="customer")


def test_every_sentence_is_in_the_catalogue_and_translated():
    wanted = extracted()
    assert "Your case page: %(link)s" in wanted and "How did we do?" in wanted
    zh = catalogue("zh_CN")
    ids = {m.id for m in zh if m.id}
    assert wanted <= ids, sorted(wanted - ids)
    untranslated = [m.id for m in zh if m.id in wanted and not m.string]
    assert untranslated == []
    assert wanted <= {m.id for m in catalogue("en") if m.id}


def test_both_languages_render_and_format_times_as_people_write_them():
    from datetime import datetime, timezone

    at = datetime(2026, 12, 8, 6, 30, tzinfo=timezone.utc)
    assert customer_page.when(at, "zh-CN", "Asia/Shanghai") == "2026年12月8日 14:30"
    assert customer_page.when(at, "en", "Asia/Shanghai") == "8 Dec 2026, 14:30"
    view = customer_page.CustomerView(reference="R-1", summary="<script>x</script>", received_at=at,
                                      stage="awaiting_answer", plan="Fix & dry", promised=[("response", at)])
    for locale, question in (("zh-CN", "您是否接受这个方案？"), ("en", "Do you accept the plan?")):
        html = customer_page.page(view, locale, "Asia/Shanghai", "/c/t")
        assert question in html and "<script>x</script>" not in html and "&lt;script&gt;" in html
        assert "T06:30" not in html and "UTC" not in html and "Asia/Shanghai" not in html
    assert customer_page.zone_name("UTC", "en") == "Coordinated Universal Time"
    assert customer_page.zone_name("Asia/Shanghai", "zh-CN") == "中国时间"
    assert customer_page.locale_of(None, "zh-CN,zh;q=0.9,en;q=0.8") == "zh-CN"
    assert customer_page.locale_of("fr", "de") == "en" and customer_page.locale_of(None, None, "zh-CN") == "zh-CN"
