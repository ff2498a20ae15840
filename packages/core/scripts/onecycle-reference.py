"""Writes test/fixtures/onecycle.json: PyTorch OneCycleLR factors (reference for src/train/schedules.test.ts).
Run: /usr/bin/python3 scripts/onecycle-reference.py"""
import json, os, torch

cases = []
for total, pct, div, final_div in [(20, 0.25, 25.0, 1e4), (37, 0.3, 10.0, 100.0)]:
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=1.0, momentum=0.9)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=total, pct_start=pct, div_factor=div,
                                                final_div_factor=final_div, anneal_strategy="cos", cycle_momentum=False)
    factors = []
    for _ in range(total):
        factors.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    cases.append({"totalSteps": total, "pctStart": pct, "divFactor": div, "finalDivFactor": final_div, "factors": factors})
out = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "onecycle.json")
with open(out, "w") as f:
    json.dump({"torch": torch.__version__, "cases": cases}, f, indent=1)
