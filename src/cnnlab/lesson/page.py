"""The lesson's HTML page, laid out like the exercise page, from report/html.py's blocks."""

from __future__ import annotations

from pathlib import Path

from cnnlab.report import html, plots
from cnnlab.report.compare import COLUMNS, comparison_sentences, table_rows


def write_lesson_page(result, path: Path) -> Path:
    return html.write_page(lesson_page(result), path)


def lesson_page(result) -> html.Page:
    from cnnlab.models.summary import format_summary

    q1, q2, q3 = result.q1, result.q2, result.q3
    sections = [_question(heading, answer, reports) for heading, answer, reports in result.questions] or [
        _question("Question 1", q1),
        _question("Question 2", q2),
        html.Section("Question 3", [
            html.Paragraph(q3.answer.question),
            html.Notice(q3.answer.text, level="info"),
            html.Preformatted(f"$ {q3.answer.command}"),
            html.Preformatted(format_summary(q3.without, line_length=76), caption="Without the extra Conv2D"),
            html.Preformatted(format_summary(q3.with_extra, line_length=76), caption="With the extra Conv2D"),
        ]),
    ]
    for d in result.datasets:
        sections.append(_dataset_section(d, result.settings))
    if result.tuning:
        from cnnlab.lesson.tuning import tuning_section

        sections += [tuning_section(t) for t in result.tuning]
    sections.append(html.Section("Observations", [html.BulletList(result.observations)]))
    settings = result.settings
    subset = f" on the first {settings['train_subset']:,} training images" if settings.get("train_subset") else ""
    return html.Page(
        title=result.title or "The CNN lesson, answered",
        subtitle=result.subtitle or (f"Exercise page of the Carpentries “Introduction to deep learning” CNN episode; "
                  f"{settings['epochs']} epochs{subset}, seed {settings['seed']}"),
        sections=sections,
        footer="Written by `cnnlab lesson`; every number on this page was computed in this run.",
    )


def _question(heading: str, answer, reports=()) -> html.Section:
    from cnnlab.models.summary import format_summary

    return html.Section(heading, [
        html.Paragraph(answer.question),
        html.Notice(answer.text, level="info"),
        html.Preformatted(f"$ {answer.command}"),
        *(html.Preformatted(format_summary(r, line_length=76), caption=r.spec.name) for r in reports),
    ])


def _dataset_section(d, settings) -> html.Section:
    heading = d.heading or (f"Question 4: {d.name}" if d.name != "cifar10" else "Training on CIFAR-10")
    if d.error:
        return html.Section(heading, [html.Notice(f"{d.name} could not be used: {d.error}")])
    blocks: list = []
    if d.note:
        blocks.append(html.Notice(d.note))
    if d.comparison is not None:
        blocks.append(html.Paragraph(f"On {d.name}'s images: {d.comparison.answer.text}"))
    if d.rows:
        histories = [(r.model, r.run.history) for r in d.rows]
        fig = plots.overlay_curves_figure(histories)
        blocks.append(html.Image.from_figure(fig, alt=f"training curves on {d.name}",
                                             caption="One colour per model; solid: training, dashed: validation."))
        blocks.append(html.Table(list(COLUMNS), table_rows(d.rows)))
        blocks.append(html.BulletList(comparison_sentences(d.rows)))
        commands = d.commands or [f"cnnlab train {r.model} --dataset {d.name} --epochs {settings['epochs']}"
                    + (f" --train-subset {settings['train_subset']}" if settings.get("train_subset") else "")
                    for r in d.rows]
        blocks.append(html.Preformatted("\n".join(f"$ {c}" for c in commands), caption="The same runs, one by one"))
    return html.Section(heading, blocks)
