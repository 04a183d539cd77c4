// chinwag serve: the model picker.
"use strict";

(() => {
  const cw = window.chinwag;
  const { ui, make, showNotice, getJSON } = cw;

  function pickModel(model) {
    if (!model) return;
    for (const option of ui.model.options) {
      if (option.value === model || option.value.endsWith(":" + model)) {
        ui.model.value = option.value;
        return;
      }
    }
  }

  // The model picker: what is known at once, then (without waiting for it) what
  // each provider's server lists, grouped by provider.
  async function loadModels() {
    try {
      const data = await getJSON("/api/models");
      fillModels(data);
      if (!data.complete) listModelsWhenReachedFor();
    } catch (error) {
      showNotice("Could not list the models: " + error.message);
    }
  }

  // Each provider's server is asked for its models once the user reaches for
  // the picker (the pointer over it, a touch, the keyboard's focus).
  function listModelsWhenReachedFor() {
    const events = ["pointerenter", "touchstart", "focus"];
    const ask = () => {
      for (const name of events) ui.model.removeEventListener(name, ask);
      getJSON("/api/models?wait=1").then(fillModels, () => {});
    };
    for (const name of events) ui.model.addEventListener(name, ask, { passive: true });
  }

  function fillModels(data) {
    const chosen = ui.model.value || data.default;
    const groups = new Map();
    for (const model of data.models) {
      const name = model.group || "Models";
      if (!groups.has(name)) {
        const group = make("optgroup");
        group.label = name;
        groups.set(name, group);
      }
      const option = make("option", "", model.label);
      option.value = model.spec;
      groups.get(name).append(option);
    }
    ui.model.replaceChildren(...groups.values());
    ui.model.value = chosen;
    if (ui.model.value !== chosen) ui.model.value = data.default;
  }

  Object.assign(cw, { pickModel, loadModels });
})();
