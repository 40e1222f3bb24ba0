"""Enforcing kharden's rules at admission time, from the same definitions as the scan.

- :mod:`.policies`: ValidatingAdmissionPolicy and binding objects, one policy per pod rule written as
  data, their CEL generated from the rule's constraints (``rules/_constraint.py``) and messages
  (``rules/_message.py``);
- :mod:`.review`: one AdmissionReview judged by the rule runner (``runner.py``), as the scan judges
  an object; :mod:`.webhook` serves it over HTTPS (an ASGI application run by uvicorn);
- :mod:`.command`: ``kharden admission policies|webhook``.
"""
