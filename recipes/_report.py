"""Reporting shared by the recipe scripts: the Markdown tables their READMEs show."""


def markdown_table(records, seconds, stems):
    """Per-mixture and mean SDR / SIR / SAR of every stem, and seconds per mixture."""
    metrics = ("SDR", "SIR", "SAR")
    mixes = sorted({r["mix"] for r in records})
    head = ["mix"] + [f"{s} {m}" for s in stems for m in metrics] + ["mean SDR", "time (s)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    value = {(r["mix"], r["stem"], m): r[m] for r in records for m in metrics}
    for mix in mixes + ["mean"]:
        chosen = mixes if mix == "mean" else [mix]

        def avg(stem, metric):
            return sum(value[(x, stem, metric)] for x in chosen) / len(chosen)

        cells = [f"{avg(s, m):.2f}" for s in stems for m in metrics]
        mean_sdr = sum(avg(s, "SDR") for s in stems) / len(stems)
        time_cell = sum(seconds[x] for x in chosen) / len(chosen)
        lines.append(f"| {mix} | " + " | ".join(cells)
                     + f" | **{mean_sdr:.2f}** | {time_cell:.1f} |")
    return "\n".join(lines)
