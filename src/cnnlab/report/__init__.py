"""Pictures, HTML reports and comparisons of run folders (matplotlib, no JavaScript).

Input is run folders only, read with `cnnlab.rundir.load_run`; nothing here imports the
training code (the mistakes grid uses the predictions training saved in the folder).

    plots.plot_history(run_dir)             training curves into <run>/plots/ (PNG, SVG)
    run_pictures.draw_run_pictures(run)     every picture of a run, with notes on what is missing
    run_report.write_run_report(run_dir)    <run>/index.html, self-contained
    compare.load_rows(dirs) -> comparison_text(rows) / write_comparison(rows, out)
    html                                    the page builder all of these pages are made with
    mistakes                                the most confident mistakes kept in metrics.json (numpy only)
    painter.Painter                         a second process drawing half the pictures meanwhile

Submodules are imported on demand, so `import cnnlab.report` pulls in nothing heavy.
"""
