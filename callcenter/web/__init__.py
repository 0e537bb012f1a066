"""The pages people use (agent desktop, supervisor view): plain HTML, CSS and JS modules, no build step."""
