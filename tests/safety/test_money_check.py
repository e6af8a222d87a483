"""SPEC §12, the money checked before the pay that cannot be undone: a bonus set-up whose
answer is not the plan for exactly its members (the 100x trap: amounts read in other units;
the fees of another rate) is never paid, and the bonuses fail with both figures (exit 2);
after applying, the study's cost (GET /studies/{id}/cost/) is compared with the ledger.
Through the CLI, against the Prolific emulator on 127.0.0.1."""

from __future__ import annotations

from decimal import Decimal

from safety_support import NOW, lab, run, seed, study, summary


def _paying(n: int, seed_: int, amount: str = "1.50"):
    s = study(n, seed=seed_)
    for p in s.participants:
        p.bonus = amount
    return s


def test_a_bonus_set_up_a_hundred_times_the_plan_is_never_paid(quick, emu, tmp_path):
    s = _paying(4, 11)
    files = lab(tmp_path / "lab", export_of=s, url=emu.url)
    seed(emu, s, files.export)
    emu.state.bonus_scale = Decimal(100)  # the set-up reads "1.50" as 150.00

    for _ in range(2):  # and never on a later run either
        result = run("close-out", files.config, "--apply", "--yes", *NOW)

        assert result.exit_code == 2, result.output
        assert "4 action(s) failed (4 bonuses)" in result.output, result.output
        shown = result.output
        assert "set them up as amount 600.00 GBP, fees 199.80 GBP, VAT 0.00 GBP, total 799.80 GBP" in shown, shown
        assert "the plan says 4 bonus(es) of 6.00 GBP, fees and VAT 2.00 GBP, total 8.00 GBP" in shown, shown
        assert "the amounts differ (100 times the plan's: amounts read in other units?)" in shown, shown
        assert "Nothing was paid" in result.output, result.output
    assert emu.calls["create-bonus-payments"] == 2 and emu.calls["pay-bonus-payments"] == 0
    assert all(emu.bonus_payments(sub.id) == [] for sub in emu.submissions_of(s.study_id))
    assert {sub.status for sub in emu.submissions_of(s.study_id)} == {"APPROVED"}  # the rest went through


def test_a_bonus_set_up_charging_other_fees_is_not_paid(quick, make_emu, tmp_path):
    emu = make_emu(fee_rate="0.428")  # a corporate workspace; the config says 0.333
    s = _paying(30, 12, "2.00")
    files = lab(tmp_path / "lab", export_of=s, url=emu.url)
    seed(emu, s, files.export)

    result = run("close-out", files.config, "--apply", "--yes", *NOW)

    assert result.exit_code == 2, result.output
    assert "fees 25.80 GBP" in result.output and "fees and VAT 20.10 GBP" in result.output, result.output
    assert "the fees differ (check [prolific] fee_rate and vat_rate against the workspace's)" in result.output
    assert emu.calls["pay-bonus-payments"] == 0


def test_after_applying_the_studys_bonus_cost_agrees_with_the_ledger(quick, emu, tmp_path):
    s = _paying(5, 13, "0.80")
    files = lab(tmp_path / "lab", export_of=s, url=emu.url)
    seed(emu, s, files.export)

    result = run("close-out", files.config, "--apply", "--yes", *NOW)

    assert result.exit_code == 0, result.output
    line = "Prolific shows 4.00 GBP of bonuses charged; the ledger 4.00 GBP (they agree)."
    assert line in result.output, result.output
    assert summary(files.workbook)["Bonus cost check"] == line
    assert emu.calls["get-study-cost"] == 1


def test_bonuses_charged_outside_the_ledger_are_reported(quick, emu, tmp_path):
    s = _paying(5, 14, "0.80")
    s.participants[0].bonus = ""
    files = lab(tmp_path / "lab", export_of=s, url=emu.url)
    seed(emu, s, files.export)
    first = next(sub for sub in emu.submissions_of(s.study_id) if sub.participant_id == s.participants[0].worker_id)
    with emu.state.lock:  # a bonus a person paid by hand in Prolific's app
        first.bonus_payments.append(Decimal(250))

    result = run("close-out", files.config, "--apply", "--yes", *NOW)

    assert result.exit_code == 0, result.output
    assert "Prolific shows 5.70 GBP of bonuses charged; the ledger 3.20 GBP." in result.output, result.output
    assert "warning: Prolific shows 2.50 GBP more bonuses charged on the study than the ledger has paid" \
        in result.output
    assert "paid outside this tool (by hand, another wave's config) or paid twice" in result.output, result.output


def test_payments_prolific_has_not_shown_yet_are_expected_not_waited_for(quick, make_emu, tmp_path):
    emu = make_emu(async_delay=30.0)  # Prolific pays "in the following minutes"
    s = _paying(3, 15, "1.00")
    # Approved already (below), so only the bonuses wait on the queue; no settle window, so
    # work decided before this run does not hold its bonus back (SPEC 13: tests/ledger's).
    files = lab(tmp_path / "lab", export_of=s, url=emu.url, extra="[safety]\nsettle_minutes = 0")
    seed(emu, s, files.export)
    with emu.state.lock:  # approved already, so only the bonuses wait on the queue
        for sub in emu.state.study_submissions(s.study_id):
            sub.status = "APPROVED"

    result = run("close-out", files.config, "--apply", "--yes", *NOW)

    assert result.exit_code == 0, result.output
    # Read once, not waited for (an apply must not sit minutes on it), and not a warning: the
    # payments were made by this very run; the next run compares again.
    assert ("Prolific shows 0.00 GBP of bonuses charged; the ledger 3.00 GBP (payments show on Prolific some "
            "minutes after they are made; the next run compares again).") in result.output, result.output
    assert "warning: Prolific shows" not in result.output
    assert emu.calls["get-study-cost"] == 1
