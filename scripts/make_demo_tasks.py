"""Build the bundled demo tasks (tasks/demo-pandalm, tasks/demo-alpaca, tasks/demo-cost) from
public data.

    python scripts/make_demo_tasks.py [--data tests/data] [--out tasks]

Reproducible: the same input files always give byte-identical task folders. The inputs are
the real files bundled in tests/data (see the SOURCE.md there); the app ships the folders
this script writes, and a test rebuilds them and compares.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import math
from collections import Counter
from pathlib import Path

from judge_app.core.types import Criterion, GoldAnswer, Outcome, TaskBundle, text_of
from judge_app.ingest.alpaca_eval import read_alpaca_eval
from judge_app.ingest.native_writer import write_task_folder
from judge_app.ingest.pandalm import read_pandalm
from judge_app.ingest.records import models_by_prompt

ROOT = Path(__file__).resolve().parents[1]
ALPACA_MODELS = (
    "gpt4_1106_preview", "claude-3-opus-20240229", "Meta-Llama-3-70B-Instruct",
    "Mixtral-8x7B-Instruct-v0.1",
)
ALPACA_PER_DATASET = 10  # AlpacaEval mixes five source datasets: 5 x 10 = 50 instructions
ALPACA_MAX_CHARS = 2500  # keep every answer short enough to read in a demo
PANDALM_GOLD = 50
COST_PROMPTS = 200
# demo-cost: ASSUMED serving profiles, not measurements (see COST_SOURCE): USD per million
# input and output tokens, time to first token (ms) and output tokens per second.
COST_PROFILES = {
    "bloom-7b": (0.15, 0.30, 250.0, 35.0),
    "cerebras-gpt-6.7B": (0.05, 0.10, 300.0, 25.0),
    "llama-7b": (0.10, 0.20, 150.0, 60.0),
    "opt-7b": (0.08, 0.16, 120.0, 70.0),
    "pythia-6.9b": (0.06, 0.12, 200.0, 45.0),
}


PANDALM_SOURCE = """\
# Source: PandaLM test set

Data: WeOpenML/PandaLM, https://github.com/WeOpenML/PandaLM, file `data/testset-v1.json`
(999 items). Licence: Apache-2.0 (the PandaLM repository's licence).

Built by `scripts/make_demo_tasks.py` from that file, unchanged except:

- each item is one prompt (id = the item's `idx`; the text is `instruction`, a blank line,
  then `input` when there is one; `motivation_app` is the category);
- `response1` / `response2` are the outputs of the two models named in `cmp_key`;
- `annotator1..3` are three human raters (`pandalm-annotator-1..3`): 0 = tie,
  1 = response1 better, 2 = response2 better. `response1` was shown first, so each verdict
  records `left = "a"`. In this file `response1` is always the alphabetically first model,
  so position and model identity are confounded;
- a few responses in the source are empty (kept: the annotators judged them, hence
  `allow_empty_responses = true`) and six are JSON `true` (kept as the text "True");
- `gold.jsonl`: 50 items on which all three annotators chose the same winner, picked by a
  fixed hash order, as known answers for quality control.
"""

ALPACA_SOURCE = """\
# Source: AlpacaEval model outputs

Data: tatsu-lab/alpaca_eval, https://github.com/tatsu-lab/alpaca_eval,
`results/<model>/model_outputs.json` for gpt4_1106_preview, claude-3-opus-20240229,
Meta-Llama-3-70B-Instruct and Mixtral-8x7B-Instruct-v0.1.

Licence: the AlpacaEval data is CC BY-NC 4.0: non-commercial use only, with attribution
to the AlpacaEval authors (Li et al., "AlpacaEval: An Automatic Evaluator of
Instruction-following Models", 2023) and to the model providers whose outputs these are.
The AlpacaEval code is Apache-2.0; none of it is included here.

Built by `scripts/make_demo_tasks.py`: 50 of the 805 instructions, 10 from each of the
five source datasets (the `category`), taken in a fixed hash order among instructions where
every one of the four answers is at most 2,500 characters long. Prompt ids are the first
16 hex digits of the SHA-1 of the instruction, as the AlpacaEval importer computes them.
Texts are unchanged.
"""


def _rank(text: str) -> str:
    """A fixed pseudo-random order that does not depend on file order."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def pandalm_task(data: Path) -> TaskBundle:
    [bundle] = read_pandalm([data / "pandalm" / "testset-v1.json.gz"])
    # Gold answers: items where all three annotators agree on a winner, a fixed sample.
    labels: dict[str, list[Outcome]] = {}
    for v in bundle.verdicts:
        labels.setdefault(v.prompt_id, []).append(v.outcome)
    unanimous = [p for p, ls in labels.items() if len(set(ls)) == 1 and ls[0] != "tie"]
    pairs = {v.prompt_id: (v.model_a, v.model_b) for v in bundle.verdicts}
    bundle.gold = [
        GoldAnswer(p, *pairs[p], labels[p][0])
        for p in sorted(sorted(unanimous, key=_rank)[:PANDALM_GOLD], key=int)
    ]
    bundle.config = dataclasses.replace(
        bundle.config,
        name="demo-pandalm",
        title="PandaLM: which answer follows the instruction better?",
        instructions=(
            "Read the instruction (and its input, when there is one), then both answers.\n\n"
            "Choose the answer that **does what the instruction asks**: correct, complete, "
            "to the point and clearly written. Prefer a short correct answer to a long wrong "
            "one. An empty answer loses; if both are unusable, choose Tie.\n\n"
            "Choose **Tie** when neither answer is clearly better."
        ),
        overlap=3,  # the three annotators cover every pair: the task is complete as shipped
        gold_rate=0.05,
        retest_rate=0.05,
        provenance="https://github.com/WeOpenML/PandaLM data/testset-v1.json "
        "(999 items, 3 human annotators)",
    )
    return bundle


def alpaca_task(data: Path) -> TaskBundle:
    folder = data / "alpaca_eval_results" / "model_outputs"
    [bundle] = read_alpaca_eval([folder / f"{m}.json.gz" for m in ALPACA_MODELS])
    answers = models_by_prompt(bundle.outputs)
    longest: Counter[str] = Counter()
    for o in bundle.outputs:
        longest[o.prompt_id] = max(longest[o.prompt_id], len(o.response[0]["content"]))
    by_dataset: dict[str, list[str]] = {}
    for p in sorted(bundle.prompts, key=lambda p: _rank(p.messages[0]["content"])):
        if len(answers[p.prompt_id]) == len(ALPACA_MODELS) and longest[p.prompt_id] <= \
                ALPACA_MAX_CHARS:
            by_dataset.setdefault(p.category, []).append(p.prompt_id)
    chosen = {pid for ids in by_dataset.values() for pid in ids[:ALPACA_PER_DATASET]}
    bundle.prompts = [p for p in bundle.prompts if p.prompt_id in chosen]
    bundle.outputs = [o for o in bundle.outputs if o.prompt_id in chosen]
    bundle.config = dataclasses.replace(
        bundle.config,
        name="demo-alpaca",
        title="AlpacaEval: four strong chat models, 50 instructions",
        instructions=(
            "You see one instruction and two answers from different assistants.\n\n"
            "Pick the answer you would rather receive: it follows the instruction, is "
            "accurate, and is clear. Length is not a virtue by itself.\n\n"
            "- **Much better** when the difference is obvious at a glance.\n"
            "- **Tie** when both are about equally good.\n"
            "- **Both bad** when neither answer is acceptable.\n\n"
            "Rate the two criteria as well, and add a short reason if you like. The model "
            "names are shown after you vote."
        ),
        outcomes=("a", "b", "tie", "both_bad"),
        strength=True,
        criteria=(
            Criterion("accuracy", "Which answer is more factually correct?"),
            Criterion("clarity", "Which answer is easier to read and better organised?"),
        ),
        rationale="optional",
        rationale_min_length=20,
        overlap=2,
        reveal_models=True,
        gold_rate=0.0,  # no known answers for these outputs; demo-pandalm shows gold pairs
        retest_rate=0.05,
        licence="CC BY-NC 4.0 (non-commercial use, attribution required)",
        provenance="https://github.com/tatsu-lab/alpaca_eval results/<model>/model_outputs.json "
        f"for {', '.join(ALPACA_MODELS)}",
    )
    return bundle


COST_SOURCE = """\
# Source: PandaLM test set, with ILLUSTRATIVE latency and cost

The prompts, outputs and three human annotators' verdicts of 200 PandaLM items (see
`tasks/demo-pandalm/SOURCE.md`: WeOpenML/PandaLM `data/testset-v1.json`, Apache-2.0), taken
in a fixed hash order, so the leaderboard has ratings from the start.

**The latency and cost fields are not measurements.** These five 7B models were never timed
or priced on one setup. To show the "Quality against cost and latency" views (the
Leaderboard page, `judge-app leaderboard --format json`, the HTML report's Pareto
frontier) with data, `scripts/make_demo_tasks.py` computes them from each answer's length
and an assumed serving profile per model:

| model | USD / M input tokens | USD / M output tokens | first token (ms) | tokens / s |
|---|---|---|---|---|
""" + "".join(f"| {m} | {p[0]:.2f} | {p[1]:.2f} | {p[2]:.0f} | {p[3]:.0f} |\n"
              for m, p in sorted(COST_PROFILES.items())) + """
- `input_tokens` = ceil(characters of the prompt / 4), `output_tokens` = ceil(characters of
  the answer / 4), at least 1;
- `cost_usd` = (input_tokens x input price + output_tokens x output price) / 1,000,000;
- `latency_ms` = first-token time + 1000 x output_tokens / tokens per second.

For real figures, generate the answers with `judge-app generate` (docs/generation.md): each
output then records the endpoint's own token counts, the cost at your prices and the
measured latency and time to first token.
"""


def cost_task(pandalm: TaskBundle) -> TaskBundle:
    """200 PandaLM items with latency and cost computed from assumed serving profiles."""
    chosen = set(sorted((p.prompt_id for p in pandalm.prompts), key=_rank)[:COST_PROMPTS])
    prompts = [p for p in pandalm.prompts if p.prompt_id in chosen]
    asked = {p.prompt_id: text_of(p.messages) for p in prompts}
    outputs = []
    for o in pandalm.outputs:
        if o.prompt_id not in chosen:
            continue
        in_price, out_price, first_ms, per_s = COST_PROFILES[o.model]
        tokens_in = max(1, math.ceil(len(asked[o.prompt_id]) / 4))
        tokens_out = max(1, math.ceil(len(text_of(o.response)) / 4))
        outputs.append(dataclasses.replace(
            o, input_tokens=tokens_in, output_tokens=tokens_out,
            cost_usd=round((tokens_in * in_price + tokens_out * out_price) / 1e6, 10),
            latency_ms=round(first_ms + 1000 * tokens_out / per_s, 1)))
    config = dataclasses.replace(
        pandalm.config, name="demo-cost",
        title="PandaLM with illustrative latency and cost (quality against cost)",
        instructions=pandalm.config.instructions + (
            "\n\nThis task's latency and cost figures are illustrative, computed from answer "
            "length (see SOURCE.md); the verdicts are PandaLM's human annotators'."),
        gold_rate=0.0,
        provenance=pandalm.config.provenance + "; latency and cost computed from assumed "
        "serving profiles (SOURCE.md), not measured",
    )
    return TaskBundle(config, prompts, outputs,
                      [v for v in pandalm.verdicts if v.prompt_id in chosen])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=ROOT / "tests" / "data")
    parser.add_argument("--out", type=Path, default=ROOT / "tasks")
    args = parser.parse_args()
    pandalm = pandalm_task(args.data)
    for bundle in (pandalm, alpaca_task(args.data), cost_task(pandalm)):
        folder = args.out / bundle.config.name
        write_task_folder(bundle, folder)
        source = {"demo-pandalm": PANDALM_SOURCE, "demo-alpaca": ALPACA_SOURCE,
                  "demo-cost": COST_SOURCE}[bundle.config.name]
        (folder / "SOURCE.md").write_text(source, encoding="utf-8")
        print(f"{folder}: {len(bundle.prompts)} prompts, {len(bundle.outputs)} outputs, "
              f"{len(bundle.verdicts)} verdicts, {len(bundle.gold)} gold answers")


if __name__ == "__main__":
    main()
