"""gunicorn settings for the web process: `gunicorn -c clinic/gunicorn.conf.py clinic.wsgi`.

The access log never carries query strings or referrers. Client search sends the name, email
or phone typed into the box as ?q=..., and every page opened from the results sends that URL
as its Referer, so gunicorn's default format (the full request line "%(r)s" and "%(f)s") would
write clients' personal data into every access log line. Paths carry ids only.
"""

# Address, method, path without the query, protocol, status, bytes, duration (µs), user agent.
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(D)s "%(a)s"'
accesslog = "-"
