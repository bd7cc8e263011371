"""Retention (APPI Art. 22, GDPR Art. 5(1)(e) and 17): purge what is past its time, keep what is held, certify both."""
