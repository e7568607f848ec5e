"""Management's reports in management's language (issue 23): the weekly service report and the quality
alert are written from the catalogue in CRISIS_LOCALE, with days and times in CRISIS_REPORT_TIMEZONE
(else CRISIS_TIMEZONE). The rendering is pure; tests/test_service_report.py sends both for real."""

from datetime import UTC, datetime, timedelta

from activities.service_report_data import Cause, Improvement, Risk, ServiceReportData, SlowCase
from activities.quality import alert_words
from activities.service_report_render import Words, render_service_report
from crisisdesk.models.metrics import CaseMetrics, DeadlineCompliance, Dimension, Durations, MetricsReport, Satisfaction
from crisisdesk.models.service import TargetResult
from crisisdesk.settings import Settings
from tests.test_catalogue import english_left

# A week that starts and ends at 16:30 UTC: 00:30 the next day in Shanghai, so the days differ by zone.
SINCE = datetime(2026, 11, 22, 16, 30, tzinfo=UTC)
UNTIL = SINCE + timedelta(days=7)


def dimension(answers: int, satisfied: float) -> Dimension:
    return Dimension(answers=answers, distribution={"1": 0, "2": 1, "3": 0, "4": 1, "5": 1}, share_satisfied=satisfied)


def figures(group: str | None = None) -> dict:
    return dict(group=group, cases_opened=3, cases_closed=2, cases_cancelled=0, cases_terminated=1, cases_open=1,
                resolution_rate=2 / 3, resolutions_confirmed=2, resolutions_unconfirmed=1,
                time_to_acknowledge=Durations(count=3, median_seconds=1800, p90_seconds=5400),
                time_to_resolve=Durations(count=2, median_seconds=86400, p90_seconds=172800),
                sla_compliance={"response": DeadlineCompliance(met_on_time=2, missed=1, compliance=2 / 3,
                                                               late_by_median_seconds=3600, late_by_max_seconds=7200)},
                sla_overall=DeadlineCompliance(met_on_time=2, missed=1, compliance=2 / 3),
                satisfaction=Satisfaction(surveys_sent=3, responses=3, score=dimension(3, 2 / 3),
                                          timeliness=dimension(3, 1.0), effectiveness=dimension(3, 2 / 3),
                                          attitude=dimension(3, 1.0)),
                crises=1, contingencies=1, media_involved=1)


def week() -> ServiceReportData:
    metrics = MetricsReport(since=SINCE, until=UNTIL, empty=False, **figures())
    metrics.escalations.levels_reached = {"1": 2, "2": 1}
    return ServiceReportData(
        period="weekly", since=SINCE, until=UNTIL, at=UNTIL, metrics=metrics, trend_by="week",
        trend=[CaseMetrics(**figures("2026-11-23"))], by_category=[CaseMetrics(**figures("technical"))],
        by_severity=[CaseMetrics(**figures("urgent"))], by_playbook=[CaseMetrics(**figures("delivery@3"))],
        slowest=[SlowCase(case_id="crisis-7", summary="三号楼外墙渗水", severity="urgent", category="technical",
                          stage="executing", hours=30.5, resolved=False)],
        causes=[Cause(cause="外墙防水层老化", in_period=2, all_time=5, categories=["technical"], titles=["外墙渗水处理"])],
        risks=[Risk(case_id="crisis-7", summary="三号楼外墙渗水", stage="executing", severity="urgent", path="crisis",
                    contingency=True, breached=True, next_deadline=UNTIL + timedelta(hours=2))],
        improvements=[Improvement(case_id="crisis-7", title="外墙渗水处理", lessons="交付前做淋水试验", at=UNTIL)],
        quality=[TargetResult(name="satisfaction-east", metric="satisfaction", value=2 / 3, level="warning", bound=0.5,
                              warning=0.9, direction="at_least", crossed=True)])


def test_the_weekly_report_reads_in_chinese_with_shanghai_days():
    report = render_service_report(week(), "zh-CN", "Asia/Shanghai")
    assert report.title == "售后服务周报：2026年11月23日至2026年11月30日"
    assert report.summary.startswith("2026年11月23日至2026年11月30日期间报告案件3件：已结案2件")
    assert "在系统外终止1件" in report.summary and "满意率66.7%" in report.summary
    # Every word but the ids crisisdesk was given (case ids, the target's and metric's names, the playbook).
    shown = report.markdown.replace("satisfaction-east", "").replace("satisfaction", "").replace("delivery@3", "")
    assert english_left(shown) == [], english_left(shown)
    assert "## 趋势（按周）" in report.markdown and "| 技术问题 | 3 | 2 | 66.7% |" in report.markdown
    assert "| 1级：2、2级：1 |" in report.markdown and "| satisfaction | 66.7% | ≥ 50.0% | 90.0% | 预警 |" in report.markdown
    assert "11月30日（周一）02:30" in report.markdown  # the risk's next deadline, 18:30 UTC, local
    assert "T16:30" not in report.markdown and "UTC" not in report.markdown + report.html
    assert '<html lang="zh-CN">' in report.html and report.html.count("<svg") == 4 == len(report.charts)
    for chart in report.charts:
        assert f'data-chart="{chart}"' in report.html and english_left(chart) == []
    assert report.charts[0] == "时限按时率（按周）"


def test_the_same_week_in_english_reads_in_utc_days():
    report = render_service_report(week(), "en", "UTC")
    assert report.title == "Weekly service report: 22 Nov 2026 – 29 Nov 2026"
    assert report.summary.startswith("3 case(s) reported between 22 Nov 2026 and 29 Nov 2026: 2 closed")
    assert "## Slowest cases" in report.markdown and "| crisis-7 | 三号楼外墙渗水 | urgent |" in report.markdown
    assert "Sun 29 Nov, 18:30" in report.markdown and "UTC" not in report.markdown


def test_an_empty_week_says_so_in_both():
    empty = ServiceReportData(period="weekly", since=SINCE, until=UNTIL, at=UNTIL,
                              metrics=MetricsReport(since=SINCE, until=UNTIL, empty=True), trend_by="week")
    zh, en = render_service_report(empty, "zh-CN", "Asia/Shanghai"), render_service_report(empty, "en", "UTC")
    assert zh.title.endswith("（无案件）") and "本报告为空" in zh.summary and not zh.charts
    assert en.title.endswith("(empty)") and "this report is empty" in en.summary
    assert "没有收到问卷答复（已发送0份）" in zh.html and "no survey answered (0 sent)" in en.html


def test_management_reads_in_the_report_zone_else_the_desk_zone():
    assert Settings(CRISIS_TIMEZONE="Asia/Shanghai").reports_zone == "Asia/Shanghai"
    assert Settings(CRISIS_TIMEZONE="Asia/Shanghai", CRISIS_REPORT_TIMEZONE="Asia/Hong_Kong").reports_zone == "Asia/Hong_Kong"
    try:
        Settings(CRISIS_REPORT_TIMEZONE="Mars/Olympus")
    except ValueError as err:
        assert "CRISIS_REPORT_TIMEZONE" in str(err) and "IANA" in str(err)
    else:
        raise AssertionError("an unknown report zone was taken")


def test_a_quality_alert_reads_in_chinese_with_local_times():
    crossing = dict(target="satisfaction-east", metric="satisfaction", level="missed", previous="warning", value=0.4,
                    threshold=0.5, window_since=SINCE, window_until=UNTIL)
    subject, body = alert_words(crossing, Words("zh-CN", "Asia/Shanghai"))
    assert subject == "质量目标未达标：satisfaction-east为40.0%"
    assert "11月23日（周一）00:30至11月30日（周一）00:30" in body and "应不低于50.0%" in body
    assert "此前为预警，现为未达标" in body and english_left(body.replace("satisfaction-east", "").replace("satisfaction", "")) == []
    hours = dict(crossing, metric="time_to_resolve.median_hours", value=30.0, threshold=24.0, level="warning", previous="ok")
    subject, body = alert_words(hours, Words("en", "UTC"))
    assert subject == "Quality early warning: satisfaction-east is 30.0 h"
    assert "should stay at or below 24.0 h (was ok, now warning)" in body and "Sun 22 Nov, 16:30" in body
