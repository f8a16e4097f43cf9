# SPDX-License-Identifier: BSD-2-Clause
"""The convergence sweep's outputs: merging a part's runs into
results.csv and curves.csv, and rebuilding results.md (mean +- std per
cell, the papers' claims with verdicts, the parts that produced the rows)
and the PNGs with bands from all of them.  Standard library (and gnuplot
for the plots, when installed)."""

import csv
import os
import platform
import shutil
import subprocess
import time

from sweep_stats import mean_std, diff_ci, verdict_beats, verdict_within

KEY = ("model", "algo", "workers", "partition", "delay", "seed", "steps_per_worker", "batch",
       "lr", "lr_schedule")
RESULT_COLS = KEY + ("epochs", "final_test_acc", "final_test_loss", "wall_s", "steps_total",
                     "staleness_mean", "staleness_max", "overlap_pct", "status")
CURVE_COLS = KEY + ("epoch", "test_acc", "test_loss", "time_s")
PART_COLS = ("date", "command", "runs", "failed", "minutes", "host")
ORDER = ("sgd", "asgd", "ssgd", "dc-asgd-c", "dc-asgd-a", "pc-asgd", "dude-asgd", "dc-s3gd",
         "s3gd", "pc-agents-pred", "pc-agents-clip", "pc-agents-mix", "pc-agents-auto")
DAEMON_DEFAULTS = ("dc-asgd-c lambda 0.04; dc-asgd-a lambda0 2, mean-square decay 0.95; "
                   "pc-asgd theta 0.5, lambda 0.04; dc-s3gd adaptive lambda0 0.2, staleness 1; "
                   "s3gd = dc-s3gd --lambda 0; momentum 0, weight decay 0; pc-agents-* = "
                   "rdma-worker --algo pc-asgd on a ring, theta 1 (pred), 0 (clip), 0.5 (mix), "
                   "auto, delay bound 2, momentum 0.9 with lr x 0.1 (the same effective step)")


def _read(path, cols):
    try:
        with open(path, newline="") as f:
            r = csv.DictReader(f)
            if tuple(r.fieldnames or ()) != cols:
                raise SystemExit("%s: header %s is not this sweep's %s: use another --out"
                                 % (path, ",".join(r.fieldnames or ()), ",".join(cols)))
            return list(r)
    except FileNotFoundError:
        return []


def _write(path, cols, rows):
    tmp = path + ".tmp"
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols, lineterminator="\n")
        w.writeheader()
        for row in rows:
            w.writerow({c: row.get(c, "") for c in cols})
    os.replace(tmp, path)


def _key(row):
    return tuple(str(row[k]) for k in KEY)


def merge(out, rows, curves):
    """Add a part's runs to results.csv and curves.csv; a run already
    there (same key: cell, seed and hyper-parameters) is replaced."""
    new = {_key(r) for r in rows}
    res = [r for r in _read(os.path.join(out, "results.csv"), RESULT_COLS) if _key(r) not in new]
    cur = [r for r in _read(os.path.join(out, "curves.csv"), CURVE_COLS) if _key(r) not in new]
    _write(os.path.join(out, "results.csv"), RESULT_COLS, res + rows)
    _write(os.path.join(out, "curves.csv"), CURVE_COLS, cur + curves)


def log_part(out, command, nruns, nfail, seconds):
    """One row in parts.csv per invocation: what ran and how long it took."""
    path = os.path.join(out, "parts.csv")
    rows = _read(path, PART_COLS)
    rows.append(dict(date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), command=command,
                     runs=nruns, failed=nfail, minutes="%.1f" % (seconds / 60),
                     host="%s (%d CPUs)" % (platform.node(), os.cpu_count() or 0)))
    _write(path, PART_COLS, rows)


# ---- grouping --------------------------------------------------------------

def _group_key(r):
    """A table: model, partition, stragglers and the hyper-parameters
    shared by its rows (epochs to one decimal: steps are rounded up per M)."""
    return (r["model"], r["partition"], r["delay"], r["batch"], r["lr"],
            _schedule_label(r), "%.1f" % float(r["epochs"]))


def _schedule_label(r):
    """The schedule in epochs (rdma-ps counts it in updates, which
    differ between async, ssgd and dc-s3gd for the same epochs)."""
    s = r["lr_schedule"]
    if s == "constant":
        return s
    n, g = s[len("step:"):].split(",")
    per_epoch_updates = int(r["steps_per_worker"]) * int(r["workers"]) / float(r["epochs"])
    # one update per round (ssgd) or per local step (no server)
    if r["algo"] in ("ssgd", "dc-s3gd", "s3gd") or r["algo"].startswith("pc-agents-"):
        per_epoch_updates /= int(r["workers"])
    return "x%s every %.2g epochs" % (g, int(n) / per_epoch_updates)


class Groups:
    """ok runs by table and cell; sgd (M=1, no stragglers) is the
    reference of every table with the same model, partition and
    hyper-parameters."""

    def __init__(self, rows):
        self.rows = [r for r in rows if r["status"] == "ok" and r["final_test_acc"]]
        self.tables = {}
        for r in self.rows:
            self.tables.setdefault(_group_key(r), []).append(r)
        refs = {}
        for r in self.rows:
            if r["algo"] == "sgd":
                k = list(_group_key(r))
                refs.setdefault(tuple(k[:2] + k[3:]), []).append(r)
        for k in list(self.tables):
            ref = refs.get(tuple(list(k[:2]) + list(k[3:])), [])
            if k[2] != "none":
                self.tables[k] = self.tables[k] + ref
        # a table of sgd alone is the reference of a straggler table
        for k, rows in list(self.tables.items()):
            if len(self.tables) > 1 and all(r["algo"] == "sgd" for r in rows):
                del self.tables[k]

    def cell(self, table, algo, m):
        return [r for r in self.tables.get(table, ()) if r["algo"] == algo and
                (int(r["workers"]) == m or algo == "sgd")]


def _accs(rows):
    """seed -> final accuracy: runs of two cells pair up by seed."""
    return {int(r["seed"]): float(r["final_test_acc"]) for r in rows}


def _fmt(rows, field="final_test_acc", digits=4):
    mean, std, n = mean_std([float(r[field]) for r in rows if r[field] not in ("", None)])
    if mean is None:
        return "-"
    return "%.*f ± %.*f (%d)" % (digits, mean, digits, std, n)


def _mean(rows, field):
    vals = [float(r[field]) for r in rows if r.get(field) not in ("", None)]
    return mean_std(vals)[0] if vals else None


# ---- results.md --------------------------------------------------------------

def _table_md(g, k, rows):
    model, part, delay, batch, lr, sched, epochs = k
    ms = sorted({int(r["workers"]) for r in rows if r["algo"] != "sgd"} | (
        {1} if any(r["algo"] == "sgd" for r in rows) else set()))
    algos = [a for a in ORDER if any(r["algo"] == a for r in rows)]
    out = ["### %s, %s, stragglers %s, lr %s" % (model, part, delay, lr), "",
           "Hyper-parameters of every row: %s epochs of samples, batch %s, lr %s, lr schedule "
           "%s; %s." % (epochs, batch, lr, sched, DAEMON_DEFAULTS), "",
           "Final test accuracy of rank 0, mean ± standard deviation (runs); below it the "
           "staleness rdma-ps measured (mean of the runs' means / largest max), for "
           "dc-s3gd the share of the allreduce hidden behind computation, for pc-agents-* "
           "the lag of rank 0's neighbours' copies in its steps.", "",
           "| algo | " + " | ".join("M=%d" % m for m in ms) + " |",
           "|------|" + "------|" * len(ms)]
    for a in algos:
        cells = []
        for m in ms:
            c = [r for r in rows if r["algo"] == a and int(r["workers"]) == m]
            if not c:
                cells.append("-")
                continue
            extra = ""
            st = _mean(c, "staleness_mean")
            if a in ("dc-s3gd", "s3gd"):
                ov = _mean(c, "overlap_pct")
                extra = "<br>hidden %.0f %%" % ov if ov is not None else ""
            elif st is not None and m > 1:
                mx = max(int(float(r["staleness_max"])) for r in c if r["staleness_max"])
                extra = "<br>τ %.1f, max %d" % (st, mx)
            cells.append(_fmt(c) + extra)
        out.append("| %s | %s |" % (a, " | ".join(cells)))
    curves = ["[M=%d](%s)" % (m, "acc-%s.png" % _plot_name(k, m)) for m in ms if m > 1]
    if curves:
        out += ["", "Curves: " + ", ".join(curves) + "."]
    return out


def _cmp_numbers(a_rows, b_rows):
    a, b = _accs(a_rows), _accs(b_rows)
    ci = diff_ci(a, b)
    s = "%s vs %s" % (_fmt(a_rows), _fmt(b_rows))
    if ci:
        paired = sorted(set(a) & set(b))
        if len(paired) >= 2:
            d = mean_std([a[k] - b[k] for k in paired])[0]
            how = " paired over %d seeds" % len(paired)
        else:
            d = mean_std(list(a.values()))[0] - mean_std(list(b.values()))[0]
            how = ""
        s += "; difference %+.2f pt, 95%% CI [%+.2f, %+.2f]%s" % (
            d * 100, ci[0] * 100, ci[1] * 100, how)
    return s


def claims(g):
    """Rows (claim, setting, what, numbers, verdict) for every table that
    holds the cells a claim compares."""
    out = []

    def add(claim, k, m, what, a_rows, b_rows, verdict, extra=""):
        if a_rows and b_rows:
            setting = "%s, M=%d, %s, stragglers %s, lr %s" % (k[0], m, k[1], k[2], k[4])
            out.append((claim, setting, what, _cmp_numbers(a_rows, b_rows) + extra,
                        verdict(_accs(a_rows), _accs(b_rows))))

    for k in sorted(g.tables):
        ms = sorted({int(r["workers"]) for r in g.tables[k]} - {1})
        for m in ms:
            sgd, asgd = g.cell(k, "sgd", m), g.cell(k, "asgd", m)
            # stragglers on iid data raise the staleness DC-ASGD corrects
            if k[1] == "iid":
                for x in ("dc-asgd-c", "dc-asgd-a"):
                    c = g.cell(k, x, m)
                    add("1 DC-ASGD", k, m, "%s within 0.5 pt of sequential SGD" % x, c, sgd,
                        verdict_within)
                    add("1 DC-ASGD", k, m, "%s beats ASGD" % x, c, asgd, verdict_beats)
            if k[1].startswith("label-skew"):
                dude = g.cell(k, "dude-asgd", m)
                for x in ("asgd", "dc-asgd-c", "dc-asgd-a"):
                    add("2 DuDe-ASGD", k, m, "dude-asgd beats %s" % x, dude, g.cell(k, x, m),
                        verdict_beats)
            s3 = g.cell(k, "dc-s3gd", m)
            ov = _mean(s3, "overlap_pct")
            add("3 DC-S3GD", k, m, "dc-s3gd within 0.5 pt of ssgd (same global batch)", s3,
                g.cell(k, "ssgd", m), verdict_within,
                "; dc-s3gd's allreduce %.0f %% hidden" % ov if ov is not None else "")
            add("3 DC-S3GD", k, m, "dc-s3gd beats s3gd (no correction)", s3, g.cell(k, "s3gd", m),
                verdict_beats)
            pc = g.cell(k, "pc-asgd", m)
            add("4 PC-ASGD (server form)", k, m, "pc-asgd beats asgd", pc, asgd, verdict_beats)
            # the paper's form: the trade-off beats either step alone, and
            # the agents hold up against the server's ASGD
            mix, auto = g.cell(k, "pc-agents-mix", m), g.cell(k, "pc-agents-auto", m)
            for x, xr in (("pc-agents-mix", mix), ("pc-agents-auto", auto)):
                for y in ("pc-agents-pred", "pc-agents-clip"):
                    add("4 PC-ASGD (agents)", k, m, "%s beats %s" % (x, y), xr, g.cell(k, y, m),
                        verdict_beats)
                add("4 PC-ASGD (agents)", k, m, "%s beats asgd" % x, xr, asgd, verdict_beats)
                # like ssgd, each agent takes M times fewer steps than the
                # server applies under asgd: ssgd is the like-for-like one
                add("4 PC-ASGD (agents)", k, m, "%s beats ssgd" % x, xr, g.cell(k, "ssgd", m),
                    verdict_beats)
            if k[2] == "none":
                add("4 PC-ASGD (server form)", k, m, "pc-asgd within 0.5 pt of sequential SGD",
                    pc, sgd, verdict_within)
    return sorted(out, key=lambda c: (c[0], c[1]))


def rebuild(out):
    """results.md and the PNGs from results.csv and curves.csv; returns a
    line saying what was written."""
    rows = _read(os.path.join(out, "results.csv"), RESULT_COLS)
    curves = _read(os.path.join(out, "curves.csv"), CURVE_COLS)
    parts = _read(os.path.join(out, "parts.csv"), PART_COLS)
    g = Groups(rows)
    md = ["# Convergence sweep results", "",
          "Built from %d runs (%d ok) in results.csv by bench/convergence/run; see "
          "bench/convergence/README.md for how to read them." % (
              len(rows), sum(r["status"] == "ok" for r in rows)), ""]
    cl = claims(g)
    md += ["## The papers' claims", "",
           "Verdicts compare K runs per cell, paired by seed (the same partition, initial "
           "weights and shuffling; Welch's t where the seeds differ), by the 95 % interval "
           "of the difference: *agrees* when the whole interval is on the claim's side, *does not* "
           "when it is all on the other side (or, for \"beats\", inside ±0.3 points), "
           "*cannot tell* otherwise.", "",
           "| claim | setting | comparison | accuracy (mean ± std (runs)) | verdict |",
           "|-------|---------|------------|-------------------------------|---------|"]
    md += ["| %s | %s | %s | %s | %s |" % c for c in cl]
    if not cl:
        md.append("| - | no table holds the cells of any claim yet | | | |")
    md += ["", "## Tables", ""]
    for k in sorted(g.tables):
        md += _table_md(g, k, g.tables[k]) + [""]
    failed = [r for r in rows if r["status"] != "ok"]
    if failed:
        md += ["## Runs that did not finish", ""]
        md += ["- %s %s M=%s %s stragglers %s seed %s: %s" % (
            r["model"], r["algo"], r["workers"], r["partition"], r["delay"], r["seed"],
            r["status"]) for r in failed] + [""]
    md += ["## Parts", "", "| date | command | runs | failed | minutes | host |",
           "|------|---------|------|--------|---------|------|"]
    md += ["| %s | `%s` | %s | %s | %s | %s |" % tuple(p[c] for c in PART_COLS) for p in parts]
    md += ["", "Host of the last rebuild: %s, %s." % (platform.node(), platform.platform())]
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    plots = _plots(out, g, curves)
    return "run: wrote %s/results.md (%d claim rows, %d tables)%s" % (
        out, len(cl), len(g.tables), plots)


# ---- plots -----------------------------------------------------------------

def _curve_stats(curves, runs):
    """{epoch: (mean, lo, hi)} of test accuracy over the runs (mean +- std)."""
    keys = {_key(r) for r in runs}
    by_ep = {}
    for c in curves:
        if _key(c) in keys:
            by_ep.setdefault(float(c["epoch"]), []).append(float(c["test_acc"]))
    out = {}
    for ep, accs in sorted(by_ep.items()):
        if len(accs) < len(keys):
            continue  # a point not every run has (e.g. a stopped straggler's)
        mean, std, _ = mean_std(accs)
        out[ep] = (mean, mean - std, mean + std)
    return out


def _plot_name(k, m):
    """model-partition-stragglers-lrLR-MM of table k: the stragglers'
    'R:MS' as 'RdMS', so that the names stay apart."""
    parts = (k[0], k[1], k[2].replace(":", "d"), "lr" + k[4], "M%d" % m)
    return "-".join(p.replace(":", "").replace(",", "_") for p in parts)


def _plots(out, g, curves):
    gp = shutil.which("gnuplot")
    if not gp:
        return "; gnuplot not found: install gnuplot-nox for the plots"
    datdir = os.path.join(out, "plotdata")
    shutil.rmtree(datdir, ignore_errors=True)
    os.makedirs(datdir)
    terms = subprocess.run([gp, "-e", "set terminal"], capture_output=True, text=True)
    cairo = "pngcairo" in terms.stdout + terms.stderr
    n = 0
    for k in sorted(g.tables):
        rows = g.tables[k]
        for m in sorted({int(r["workers"]) for r in rows} - {1}):
            lines = []
            for a in (a for a in ORDER if g.cell(k, a, m)):
                st = _curve_stats(curves, g.cell(k, a, m))
                if not st:
                    continue
                # paths relative to out, where gnuplot runs: plotdata/ moves with it
                dat = os.path.join("plotdata", _plot_name(k, m) + "-" + a + ".dat")
                with open(os.path.join(out, dat), "w") as f:
                    f.writelines("%s %.5f %.5f %.5f\n" % (ep, *v) for ep, v in st.items())
                # one colour per algorithm in every plot
                lc = "lc rgb 'black'" if a == "sgd" else "lc %d" % ORDER.index(a)
                dash = " dashtype 2" if a == "sgd" else ""
                title = "sequential SGD (M=1)" if a == "sgd" else a
                if cairo:
                    lines.append("'%s' using 1:3:4 with filledcurves fs transparent solid 0.18 "
                                 "noborder %s notitle" % (dat, lc))
                else:
                    lines.append("'%s' using 1:2:3:4 with yerrorbars %s notitle" % (dat, lc))
                lines.append("'%s' using 1:2 with linespoints lw 2%s pt 7 ps 0.6 %s title '%s'"
                             % (dat, dash, lc, title))
            if not lines:
                continue
            png = "acc-%s.png" % _plot_name(k, m)
            script = os.path.join(datdir, png[:-4] + ".gp")
            with open(script, "w") as f:
                f.write("set terminal %s size 900,520%s\n" % (
                    "pngcairo" if cairo else "png", " font 'sans,10'" if cairo else ""))
                f.write("set output '%s'\n" % png)
                f.write("set title \"%s, M=%d, %s, stragglers %s\\nlr %s, %s, batch %s: "
                        "mean of the seeds, band ±1 std\" noenhanced\n"
                        % (k[0], m, k[1], k[2], k[4], k[5], k[3]))
                f.write("set xlabel 'epochs (samples seen by all workers / training set)'\n")
                f.write("set ylabel 'test accuracy (rank 0)'\nset grid\nset key outside right top\n")
                f.write("plot " + ", \\\n     ".join(lines) + "\n")
            r = subprocess.run([gp, script], capture_output=True, text=True, cwd=out)
            if r.returncode:
                with open(script + ".err", "w") as f:
                    f.write(r.stderr)
            else:
                n += 1
    return ", %d PNG(s)" % n
