"""axe-core in a real browser: an audit that opens pages, runs axe's WCAG 2.1 A and AA rules
on each and keeps every violation for one report.

axe-core comes from npm (package.json, installed into node_modules/ by scripts/setup). It is
added to each page as a browser-context init script, which the browser runs outside the
page's strict Content-Security-Policy: the pages are checked exactly as served."""
from __future__ import annotations

from urllib.parse import urlsplit

from tests.support.helpers import ROOT

AXE_JS = ROOT / "node_modules" / "axe-core" / "axe.min.js"
AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    "resultTypes": ["violations"],
}
DESKTOP = dict(viewport={"width": 1280, "height": 800}, locale="en-US")

def axe_context(browser, live, screen: dict):
    context = browser.new_context(base_url=live.url, **screen)
    context.add_init_script(path=str(AXE_JS))
    context.set_default_timeout(10_000)
    return context


class Audit:
    """Opens pages in one browser context and runs axe on each; keeps every violation."""

    def __init__(self, page, language: str):
        self.page = page
        self.language = language
        self.checked: list[str] = []
        self.violations: dict[str, list[dict]] = {}

    def go(self, url: str, status: int = 200):
        response = self.page.goto(url)
        assert response.status == status, f"{url}: {response.status}"

    def follow(self, action, status: int = 200):
        """Clicks or submits, waits for the next page and checks its status."""
        with self.page.expect_navigation() as navigation:
            action()
        response = navigation.value
        assert response.status == status, f"{response.url}: {response.status}"

    def check(self, name: str, *, language: str | None = None) -> None:
        """`language`: the page's own, where it is not the audit's (staff pages are English)."""
        page = self.page
        assert page.locator("html").get_attribute("lang") == (language or self.language), name
        assert page.locator("h1").count() == 1, name
        assert page.evaluate("typeof axe") == "object", "axe-core was not loaded into the page"
        found = page.evaluate("async options => (await axe.run(document, options)).violations", AXE_OPTIONS)
        self.checked.append(name)
        if found:
            self.violations[f"{name} ({urlsplit(page.url).path})"] = found

    def report(self) -> str:
        lines = []
        for where, violations in self.violations.items():
            lines.append(f"== {where}")
            for v in violations:
                lines.append(f"  [{v['impact']}] {v['id']}: {v['help']} ({v['helpUrl']})")
                for node in v["nodes"][:5]:
                    summary = " / ".join(s.strip() for s in (node.get("failureSummary") or "").splitlines()[1:])
                    lines.append(f"    {' '.join(map(str, node['target']))}: {summary}")
                    lines.append(f"      {node['html'][:160]}")
                if len(v["nodes"]) > 5:
                    lines.append(f"    ... and {len(v['nodes']) - 5} more")
        return "\n".join(lines)


