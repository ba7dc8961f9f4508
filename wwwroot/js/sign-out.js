// Signing out leaves nothing of this person's in the browser: what the Studio keeps in local storage per user
// (the form's draft, dismissed jobs: keys "fluxweb.<what>.<user id>") goes before the sign-out form is sent.
// ADR 0017. A classic script, listening on the document, because the form is re-rendered by the circuit.
// Deleting one's account does the same, once it has succeeded: the sign-in page it lands on names the account
// (data-forget-user), and this script, loaded at the end of every page, forgets it.
(() => {
  function forget(userId) {
    if (!userId) return;
    try {
      const suffix = "." + userId;
      const keys = [];
      for (let i = 0; i < localStorage.length; i++) {
        const key = localStorage.key(i);
        if (key && key.startsWith("fluxweb.") && key.endsWith(suffix)) keys.push(key);
      }
      keys.forEach(key => localStorage.removeItem(key));
    } catch {
      // Storage switched off: there is nothing kept to forget.
    }
  }

  document.querySelectorAll("[data-forget-user]").forEach(element => forget(element.getAttribute("data-forget-user")));

  document.addEventListener("submit", event => {
    const form = event.target;
    if (form instanceof HTMLFormElement && form.hasAttribute("data-sign-out")) {
      forget(form.getAttribute("data-user-id"));
    }
  }, true);
})();
