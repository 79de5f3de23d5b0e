def membership(request):
    membership = getattr(request, "membership", None)
    return {"membership": membership, "company": membership.company if membership else None}
